{#-
  A path setting as Python resolves it (assets/config.py): unset or empty, the default;
  relative, relative to the repository root, one level above this project, where dbt runs.
  profiles.yml and the sources' yml, which cannot call macros, spell the same expression out.
  The lake's path is also a var, `lake_dir`: the pipeline passes it absolute
  (orchestration/dbt_assets.py, lake_vars), since the views over the lake keep the path as
  written and are read from other folders than dbt's (the serving copy, BI tools).
-#}
{% macro optout_path(variable, default) -%}
    {#- an empty value is the default, as for Python -#}
    {%- set path = env_var(variable, '') or default -%}
    {{ return(path if path[:1] in ('/', ':') else '../' ~ path) }}
{%- endmacro %}
