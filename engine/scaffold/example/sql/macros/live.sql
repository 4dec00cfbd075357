{#- Soft deletion, stated once. The app never removes rows: it sets deleted_at to the
    deletion time and keeps 0 for live rows (reference 1.1), so "live" is deleted_at = 0.
    Import with {% from 'macros/live.sql' import live %}; use as {{ live('u') }}. -#}
{% macro live(alias) -%}
    {{ alias }}.deleted_at = 0
{%- endmacro %}

{#- The row's user is live, for a NOT NULL column referencing users (every user_id column of
    reference 1.2 is one, so the user always exists): an anti-join on the few deleted users
    instead of joining every live one. Measured at 1M users (30k deleted): variant_stats'
    counts 4.2-4.7 s -> 3.1-3.4 s, the same rows. Use as {{ by_live_user('ii.user_id') }}. -#}
{% macro by_live_user(user_column) -%}
    not exists (
        select 1 from users as deleted_user
        where deleted_user.id = {{ user_column }} and deleted_user.deleted_at != 0
    )
{%- endmacro %}
