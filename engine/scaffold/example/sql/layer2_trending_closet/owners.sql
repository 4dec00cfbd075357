-- Active users owning (OPEN_FOR_TRADE) any variant of a trending product: one row per
-- (user, product), with the lowest owned variant id of that product. The audience keeps each
-- user's best-ranked product, then its lowest variant id, so the rows left out here could
-- never be chosen; leaving them on the server saves their transfer and deduplication.
-- Live users with email, first name, username and a preferred size, active within
-- activity_days of as_of.
{% from 'macros/live.sql' import live %}
{% import 'macros/users.sql' as users %}
select
    {{ users.profile_columns() }},
    owned.product_id,
    owned.variant_id
from users as u
inner join user_activities as ua on u.id = ua.user_id
inner join ({{ users.one_size_per_user() }}) as s on u.id = s.user_id
inner join (
    select distinct on (ii.user_id, pv.product_id)
        ii.user_id,
        pv.product_id,
        ii.product_variant_id as variant_id
    from inventory_items as ii
    inner join product_variants as pv on ii.product_variant_id = pv.id
    where
        ii.status = 'OPEN_FOR_TRADE'
        and pv.product_id = any({{ product_ids }}::uuid[])
    order by ii.user_id asc, pv.product_id asc, ii.product_variant_id asc
) as owned on u.id = owned.user_id
where
    {{ live('u') }}
    and u.email is not null
    and u.first_name is not null
    and u.username is not null
    and ua.last_active >= {{ as_of }}::timestamptz - make_interval(days => {{ activity_days }})
