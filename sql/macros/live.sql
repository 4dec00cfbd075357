{#- Soft deletion, stated once. The app never removes rows: it sets deleted_at to the
    deletion time and keeps 0 for live rows (reference 1.1), so "live" is deleted_at = 0.
    Import with {% from 'macros/live.sql' import live %}; use as {{ live('u') }}. -#}
{% macro live(alias) -%}
    {{ alias }}.deleted_at = 0
{%- endmacro %}
