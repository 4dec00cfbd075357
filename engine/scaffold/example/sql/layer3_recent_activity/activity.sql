-- Layer 3 recent activity (seed 001): closet adds, wishlist adds and offer creations
-- in [as_of - (lookback_hours - cooling_hours) h, as_of - cooling_hours h).
-- One row per action; the engine keeps each user's highest-priority action.
{% from 'macros/live.sql' import live, by_live_user %}
{#- the window, written into each branch: a CTE read by three branches would be materialised,
    and a plan reading a materialised CTE runs without parallel workers (measured at 1M users:
    3.8 s serial) -#}
{% set window_start -%}
{{ as_of }}::timestamptz - make_interval(hours => {{ lookback_hours }} - {{ cooling_hours }})
{%- endset %}
{% set window_end -%}
{{ as_of }}::timestamptz - make_interval(hours => {{ cooling_hours }})
{%- endset %}
with closet_adds as (
    -- current status OPEN_FOR_TRADE, as the original (not the status at creation)
    select
        ii.user_id,
        'closet_add' as action_type,
        p.name as product_name,
        ii.product_variant_id as variant_id,
        ii.created_at
    from inventory_items as ii
    inner join product_variants as pv on ii.product_variant_id = pv.id
    inner join products as p on pv.product_id = p.id
    where
        ii.created_at >= {{ window_start }}
        and ii.created_at < {{ window_end }}
        and ii.status = 'OPEN_FOR_TRADE'
        and {{ by_live_user('ii.user_id') }}
),

wishlist_adds as (
    select
        wi.user_id,
        'wishlist_add' as action_type,
        p.name as product_name,
        wi.product_variant_id as variant_id,
        wi.created_at
    from wishlist_items as wi
    inner join product_variants as pv on wi.product_variant_id = pv.id
    inner join products as p on pv.product_id = p.id
    where
        wi.created_at >= {{ window_start }}
        and wi.created_at < {{ window_end }}
        and {{ live('wi') }}
        and {{ by_live_user('wi.user_id') }}
),

offer_first_items as (
    -- the "first item" of an offer is its lowest offer_items.id, whichever side owns it;
    -- offers are not filtered on status or deleted_at (as the original)
    select
        o.creator_user_id,
        o.created_at,
        oi.product_variant_id,
        row_number() over (partition by o.id order by oi.id asc) as item_rank
    from offers as o
    inner join offer_items as oi on o.id = oi.offer_id
    where
        o.created_at >= {{ window_start }}
        and o.created_at < {{ window_end }}
),

offers_created as (
    select
        ofi.creator_user_id as user_id,
        'offer_created' as action_type,
        p.name as product_name,
        ofi.product_variant_id as variant_id,
        ofi.created_at
    from offer_first_items as ofi
    inner join product_variants as pv on ofi.product_variant_id = pv.id
    inner join products as p on pv.product_id = p.id
    where
        ofi.item_rank = 1
        and {{ by_live_user('ofi.creator_user_id') }}
)

select * from closet_adds
union all
select * from wishlist_adds
union all
select * from offers_created
