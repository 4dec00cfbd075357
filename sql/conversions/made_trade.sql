{#- Conversion "made_trade": a trade was made on an offer the user created or received, in
    (window_start, window_end]; both sides of the trade convert, at the trade's creation. -#}
{% from 'macros/live.sql' import live %}
select
    side.user_id::text as user_id,
    t.created_at as converted_at
from trades as t
inner join offers as o on t.offer_id = o.id
cross join lateral (values (o.creator_user_id), (o.receiver_user_id)) as side (user_id)
where
    t.created_at > {{ window_start }}::timestamptz
    and t.created_at <= {{ window_end }}::timestamptz
    and side.user_id is not null
    and {{ live('t') }}
