{#- Shared user filters and lookups. Import with {% import 'macros/users.sql' as users %}. -#}

{#- Preferred men's size per user (reference 1.2): users -> user_preferences ->
    attribute_preferences (preferred = TRUE) -> attributes (name = 'mens_size') ->
    attribute_values. Like the original, soft-deleted preferences still count.
    Several preferred sizes give several rows; callers decide how to pick one.
    Callers that need only some users say which (the planner cannot push a filter on the
    outer join into this subquery, so without it every user's preferences are read and sorted):
    user_ids, a bound uuid array, or user_query, a query returning user ids. -#}
{% macro size_preferences(user_ids=none, user_query=none) %}
    select
        up.user_id,
        av.value as user_size,
        ap.updated_at as preference_updated_at
    from user_preferences as up
    inner join attribute_preferences as ap on up.id = ap.user_preference_id
    inner join attributes as a on ap.attribute_id = a.id
    inner join attribute_values as av on ap.attribute_value_id = av.id
    where
        a.name = 'mens_size'
        and ap.preferred = true
        {% if user_ids is not none %}
        and up.user_id = any({{ user_ids }}::uuid[])
        {% endif %}
        {% if user_query is not none %}
        and up.user_id in ({{ user_query }})
        {% endif %}
{% endmacro %}

{#- One preferred size per user, deterministically: the most recently updated
    preference, then the smallest value (the original kept an arbitrary one). -#}
{% macro one_size_per_user(user_ids=none, user_query=none) %}
    select distinct on (sp.user_id)
        sp.user_id,
        sp.user_size
    from ({{ size_preferences(user_ids, user_query) }}) as sp
    order by sp.user_id asc, sp.preference_updated_at desc, sp.user_size asc
{% endmacro %}

{#- The profile columns the user-facing audiences share, in their CSV order: users as u,
    a one-size-per-user join as s, user_activities as ua. -#}
{% macro profile_columns() -%}
    u.id as user_id,
    u.username,
    u.first_name,
    s.user_size,
    ua.last_active
{%- endmacro %}
