-- Trending products: distinct offers touching any variant of the product, created in
-- the lookback_days before as_of (no status, deleted or owner filter, as the original).
-- Ties broken deterministically: offer count desc, then product name, then id.
{% import 'macros/text.sql' as text %}
with counts as (
    select
        p.id as product_id,
        p.name as product_name,
        count(distinct o.id) as offer_count
    from products as p
    inner join product_variants as pv on p.id = pv.product_id
    inner join offer_items as oi on pv.id = oi.product_variant_id
    inner join offers as o on oi.offer_id = o.id
    where
        o.created_at >= {{ as_of }}::timestamptz - make_interval(days => {{ lookback_days }})
        and o.created_at <= {{ as_of }}::timestamptz
    group by p.id, p.name
),

ranked as (
    select
        product_id,
        product_name,
        offer_count,
        row_number() over (order by offer_count desc, product_name asc, product_id asc) as rank_number
    from counts
)

select
    product_id,
    product_name,
    offer_count,
    rank_number,
    {{ text.ordinal('rank_number') }} as trending_rank
from ranked
where rank_number <= {{ trending_limit }}
