-- Profiles of the given users (live users only): name, username, one preferred size,
-- last activity. Users without a profile row here are dropped by an inner join.
{% from 'macros/live.sql' import live %}
{% import 'macros/users.sql' as users %}
select
    {{ users.profile_columns() }}
from users as u
left join ({{ users.one_size_per_user(user_ids=user_ids) }}) as s on u.id = s.user_id
left join user_activities as ua on u.id = ua.user_id
where
    u.id = any({{ user_ids }}::uuid[])
    and {{ live('u') }}
