-- Active users owning (OPEN_FOR_TRADE) any variant of a trending product: one row per
-- owned item. Live users with email, first name, username and a preferred size, active
-- within activity_days of as_of.
{% from 'macros/live.sql' import live %}
{% import 'macros/users.sql' as users %}
select
    {{ users.profile_columns() }},
    pv.product_id,
    ii.product_variant_id as variant_id
from users as u
inner join user_activities as ua on u.id = ua.user_id
inner join ({{ users.one_size_per_user() }}) as s on u.id = s.user_id
inner join inventory_items as ii on u.id = ii.user_id
inner join product_variants as pv on ii.product_variant_id = pv.id
where
    {{ live('u') }}
    and u.email is not null
    and u.first_name is not null
    and u.username is not null
    and ua.last_active >= {{ as_of }}::timestamptz - make_interval(days => {{ activity_days }})
    and ii.status = 'OPEN_FOR_TRADE'
    and pv.product_id = any({{ product_ids }}::uuid[])
