-- Demand statistics per variant, computed in bulk for the given variant ids.
-- options.stats picks which counts to compute (structure only):
--   inventory_count      OPEN_FOR_TRADE items of the variant owned by live users
--   wishlist_count       live wishlist rows of the variant from live users
--   variant_open_offers  distinct OPEN/PENDING live offers with the variant, created in the 30 days before as_of
--   variant_offers_7d    distinct offers with the variant created in the 7 days before as_of (any status)
-- relevant_variant_size is the variant's index_cache mens_size, else 'Unknown'.
{% from 'macros/live.sql' import live, by_live_user %}
select
    pv.id as variant_id,
    coalesce(pv.index_cache ->> 'mens_size', 'Unknown') as relevant_variant_size
    {% if 'inventory_count' in options.stats %}
    , coalesce(inv.n, 0) as inventory_count
    {% endif %}
    {% if 'wishlist_count' in options.stats %}
    , coalesce(wl.n, 0) as wishlist_count
    {% endif %}
    {% if 'variant_open_offers' in options.stats %}
    , coalesce(offer_counts.open_n, 0) as variant_open_offers
    {% endif %}
        {% if 'variant_offers_7d' in options.stats %}
    , coalesce(offer_counts.recent_n, 0) as variant_offers_7d
    {% endif %}
from product_variants as pv
{% if 'inventory_count' in options.stats %}
left join (
    select
        ii.product_variant_id,
        count(*) as n
    from inventory_items as ii
    where
        ii.product_variant_id = any({{ variant_ids }}::uuid[])
        and ii.status = 'OPEN_FOR_TRADE'
        and {{ by_live_user('ii.user_id') }}
    group by ii.product_variant_id
) as inv on pv.id = inv.product_variant_id
{% endif %}
{% if 'wishlist_count' in options.stats %}
left join (
    select
        wi.product_variant_id,
        count(*) as n
    from wishlist_items as wi
    where
        wi.product_variant_id = any({{ variant_ids }}::uuid[])
        and {{ live('wi') }}
        and {{ by_live_user('wi.user_id') }}
    group by wi.product_variant_id
) as wl on pv.id = wl.product_variant_id
{% endif %}
{% if 'variant_open_offers' in options.stats or 'variant_offers_7d' in options.stats %}
left join (
    -- both offer counts in one pass over the variants' offers of the last 30 days
    select
        oi.product_variant_id,
        count(distinct o.id) filter (
            -- 'PENDING' is not a real status (reference 1.2); kept to match the original
            where o.offer_status in ('OPEN', 'PENDING') and {{ live('o') }}
        ) as open_n,
        count(distinct o.id) filter (
            where o.created_at >= {{ as_of }}::timestamptz - interval '7 days'
        ) as recent_n
    from offer_items as oi
    inner join offers as o on oi.offer_id = o.id
    where
        oi.product_variant_id = any({{ variant_ids }}::uuid[])
        and o.created_at >= {{ as_of }}::timestamptz - interval '30 days'
        and o.created_at <= {{ as_of }}::timestamptz
    group by oi.product_variant_id
) as offer_counts on pv.id = offer_counts.product_variant_id
{% endif %}
where pv.id = any({{ variant_ids }}::uuid[])
