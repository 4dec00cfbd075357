{#- Push token lookup (reference 1.2 `devices`, 3.4): per user, the single device with a
    token and the latest updated_at, as the original's Hasura query picked it. Blank tokens
    are ignored too (FCM would reject them); ties on updated_at go to the highest id so the
    choice is deterministic. `user_ids` is a bound uuid array: the whole audience at once. -#}
select distinct on (d.user_id)
    d.user_id::text as user_id,
    d.token
from devices as d
where
    d.user_id = any({{ user_ids }}::uuid[])
    and d.token is not null
    and btrim(d.token) <> ''
order by d.user_id asc, d.updated_at desc, d.id desc
