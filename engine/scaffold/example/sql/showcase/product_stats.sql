-- One row of product-level stats for the showcased product (zeros if it does not exist):
-- distinct offers touching it created in the 7 days before as_of, and distinct trades
-- validated in the 30 days before as_of.
select
    {{ product_id }}::uuid as product_id,
    (
        select count(distinct o.id)
        from product_variants as pv
        inner join offer_items as oi on pv.id = oi.product_variant_id
        inner join offers as o on oi.offer_id = o.id
        where
            pv.product_id = {{ product_id }}::uuid
            and o.created_at >= {{ as_of }}::timestamptz - interval '7 days'
            and o.created_at <= {{ as_of }}::timestamptz
    ) as product_offers_7d,
    (
        select count(distinct t.id)
        from product_variants as pv
        inner join offer_items as oi on pv.id = oi.product_variant_id
        inner join trades as t on oi.offer_id = t.offer_id
        where
            pv.product_id = {{ product_id }}::uuid
            and t.validation_passed_date is not null
            and t.validation_passed_date >= {{ as_of }}::timestamptz - interval '30 days'
            and t.validation_passed_date <= {{ as_of }}::timestamptz
    ) as product_trades_30d
