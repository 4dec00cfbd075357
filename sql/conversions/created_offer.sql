{#- Conversion "created_offer": the user created an offer (live, not an offer idea) in
    (window_start, window_end]. One row per offer: the engine counts a user once per push,
    with their first offer after the push's attribution time. The window bounds are bound
    values (timestamptz), never SQL text. -#}
{% from 'macros/live.sql' import live %}
select
    o.creator_user_id::text as user_id,
    o.created_at as converted_at
from offers as o
where
    o.created_at > {{ window_start }}::timestamptz
    and o.created_at <= {{ window_end }}::timestamptz
    and not o.is_offer_idea
    and {{ live('o') }}
