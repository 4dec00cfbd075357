-- New users (created between max_days days and min_hours hours before as_of; live, with
-- a first name and a preferred size) and the first onboarding step each has not done.
-- The level is the first that applies, so levels are mutually exclusive by construction:
--   1 no_shoes:    no inventory_items row at all (any status, any deleted_at)
--   2 no_bio:      bio null, empty or whitespace
--   3 no_offers:   never created an offer (any status, deleted or not)
--   4 no_wishlist: no live wishlist row
--   5 new_stars:   everything done
{% from 'macros/live.sql' import live %}
{% import 'macros/users.sql' as users %}
with new_users as (
    select
        u.id as user_id,
        u.username,
        u.first_name,
        u.bio,
        u.created_at
    from users as u
    where
        u.created_at between
        {{ as_of }}::timestamptz - make_interval(days => {{ max_days }})
        and {{ as_of }}::timestamptz - make_interval(hours => {{ min_hours }})
        and {{ live('u') }}
        and u.first_name is not null
        and exists (select 1 from ({{ users.size_preferences() }}) as s where s.user_id = u.id)
)

select
    nu.user_id,
    nu.username,
    nu.first_name,
    nu.created_at,
    case
        when not exists (select 1 from inventory_items as ii where ii.user_id = nu.user_id) then 1
        when nu.bio is null or trim(nu.bio) = '' then 2
        when not exists (select 1 from offers as o where o.creator_user_id = nu.user_id) then 3
        when not exists (
            select 1 from wishlist_items as wi
            where wi.user_id = nu.user_id and {{ live('wi') }}
        ) then 4
        else 5
    end as new_user_level
from new_users as nu
