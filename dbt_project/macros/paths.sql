{#-
  A path setting as Python resolves it (assets/config.py): unset or empty, the default;
  relative, relative to the repository root, one level above this project, where dbt runs.
  profiles.yml and the sources' yml, which cannot call macros, spell the same expression out.
-#}
{% macro optout_path(variable, default) -%}
    {#- an empty value is the default, as for Python -#}
    {%- set path = env_var(variable, '') or default -%}
    {{ return(path if path[:1] in ('/', ':') else '../' ~ path) }}
{%- endmacro %}
