{#- Conversion "active_again": the user opened the app in (window_start, window_end].
    user_activities keeps only each user's latest activity (last_active), so a user seen
    inside the window and again after it is counted by their latest visit only: measure with
    the window closed soon after it ends, or read an event table when the app has one. -#}
select
    ua.user_id::text as user_id,
    ua.last_active as converted_at
from user_activities as ua
where
    ua.last_active > {{ window_start }}::timestamptz
    and ua.last_active <= {{ window_end }}::timestamptz
