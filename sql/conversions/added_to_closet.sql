{#- Conversion "added_to_closet": the user added a pair to their closet (a live inventory
    item) in (window_start, window_end]. -#}
{% from 'macros/live.sql' import live %}
select
    ii.user_id::text as user_id,
    ii.created_at as converted_at
from inventory_items as ii
where
    ii.created_at > {{ window_start }}::timestamptz
    and ii.created_at <= {{ window_end }}::timestamptz
    and {{ live('ii') }}
