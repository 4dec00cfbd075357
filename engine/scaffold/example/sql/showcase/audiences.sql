-- The three showcase audiences of one product, as the original builds them: live,
-- active (activity_days), sized users with email and first name.
--   haves: one row per OPEN_FOR_TRADE item of the product (variant = the owned one)
--   wants: one row per live wishlist row of the product
--   everybody_else: everyone else, with the product's variant in their size (none: left out)
-- Like the original, several preferred sizes or same-size variants give several rows.
{% from 'macros/live.sql' import live %}
{% import 'macros/users.sql' as users %}
with eligible as (
    select
        u.id as user_id,
        u.first_name,
        s.user_size,
        ua.last_active
    from users as u
    inner join user_activities as ua on u.id = ua.user_id
    inner join ({{ users.size_preferences() }}) as s on u.id = s.user_id
    where
        {{ live('u') }}
        and u.email is not null
        and u.first_name is not null
        and ua.last_active >= {{ as_of }}::timestamptz - make_interval(days => {{ activity_days }})
),

product_variant_ids as (
    select
        pv.id as variant_id,
        pv.index_cache ->> 'mens_size' as variant_size
    from product_variants as pv
    where pv.product_id = {{ product_id }}::uuid
),

haves as (
    select
        e.*,
        'haves' as audience_type,
        ii.product_variant_id as variant_id
    from eligible as e
    inner join inventory_items as ii on e.user_id = ii.user_id
    inner join product_variant_ids as v on ii.product_variant_id = v.variant_id
    where ii.status = 'OPEN_FOR_TRADE'
),

wants as (
    select
        e.*,
        'wants' as audience_type,
        wi.product_variant_id as variant_id
    from eligible as e
    inner join wishlist_items as wi on e.user_id = wi.user_id
    inner join product_variant_ids as v on wi.product_variant_id = v.variant_id
    where {{ live('wi') }}
),

everybody_else as (
    select
        e.*,
        'everybody_else' as audience_type,
        v.variant_id
    from eligible as e
    inner join product_variant_ids as v on e.user_size = v.variant_size
    where
        not exists (
            select 1
            from inventory_items as ii
            inner join product_variant_ids as pv on ii.product_variant_id = pv.variant_id
            where ii.user_id = e.user_id and ii.status = 'OPEN_FOR_TRADE'
        )
        and not exists (
            select 1
            from wishlist_items as wi
            inner join product_variant_ids as pv on wi.product_variant_id = pv.variant_id
            where wi.user_id = e.user_id and {{ live('wi') }}
        )
)

select
    *,
    {{ product_id }}::uuid as product_id
from haves
union all
select
    *,
    {{ product_id }}::uuid as product_id
from wants
union all
select
    *,
    {{ product_id }}::uuid as product_id
from everybody_else
