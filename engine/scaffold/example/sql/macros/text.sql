{#- The original's ordinal words: 1st, 2nd, 3rd, then <n>th for every other n
    (so 11th, 21th, 22th: only 1-3 are special-cased, reference 2.1). -#}
{% macro ordinal(n) %}
    {{ n }}::text || case {{ n }} when 1 then 'st' when 2 then 'nd' when 3 then 'rd' else 'th' end
{%- endmacro %}
