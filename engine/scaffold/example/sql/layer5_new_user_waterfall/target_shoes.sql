-- Each user's "top target shoe", by the original's fallback chain (first source that
-- has one wins):
--   1 desired_item:  live desired_items, highest offers_count, then newest
--   2 recent_offer:  the user's most recent offer, its first item
--   3 wishlist_item: the newest live wishlist item
--   4 comprehensive_offer_target: any offer item of the user's offers, tolerating
--     missing variants or products ('Unknown Product')
{% from 'macros/live.sql' import live %}
with candidates as (
    select
        di.user_id,
        p.name as top_target_shoe,
        di.product_variant_id as target_variant_id,
        1 as source_rank,
        'desired_item' as target_source,
        row_number() over (
            partition by di.user_id order by di.offers_count desc, di.created_at desc, di.id asc
        ) as pick
    from desired_items as di
    inner join product_variants as pv on di.product_variant_id = pv.id
    inner join products as p on pv.product_id = p.id
    where di.user_id = any({{ user_ids }}::uuid[]) and {{ live('di') }}

    union all

    select
        wi.user_id,
        p.name as top_target_shoe,
        wi.product_variant_id as target_variant_id,
        3 as source_rank,
        'wishlist_item' as target_source,
        row_number() over (partition by wi.user_id order by wi.created_at desc, wi.id asc) as pick
    from wishlist_items as wi
    inner join product_variants as pv on wi.product_variant_id = pv.id
    inner join products as p on pv.product_id = p.id
    where wi.user_id = any({{ user_ids }}::uuid[]) and {{ live('wi') }}

    union all

    -- 2 recent_offer and 4 comprehensive_offer_target in one pass: items whose variant and
    -- product resolve rank 2; unresolvable ones only matter when nothing else was found
    select
        o.creator_user_id as user_id,
        coalesce(p.name, 'Unknown Product') as top_target_shoe,
        oi.product_variant_id as target_variant_id,
        case when p.id is null then 4 else 2 end as source_rank,
        case when p.id is null then 'comprehensive_offer_target' else 'recent_offer' end as target_source,
        row_number() over (
            partition by o.creator_user_id, p.id is null
            order by o.created_at desc, o.id asc, oi.id asc
        ) as pick
    from offers as o
    inner join offer_items as oi on o.id = oi.offer_id
    left join product_variants as pv on oi.product_variant_id = pv.id
    left join products as p on pv.product_id = p.id
    where o.creator_user_id = any({{ user_ids }}::uuid[])
)

select distinct on (user_id)
    user_id,
    top_target_shoe,
    target_variant_id,
    target_source
from candidates
where pick = 1
order by user_id asc, source_rank asc
