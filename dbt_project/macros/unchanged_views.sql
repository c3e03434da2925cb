{#-
  Views on DuckDB: created again only when their definition changed.

  A view holds no data: the staging, intermediate, audit and reporting views read the
  tables under them at query time, so the same view is right after any build of those
  tables. dbt's own view materialization drops and creates every view on every build, each
  with a comment per column (persist_docs): 22 views, about 3 s of a daily build's node
  time, for nothing. This one keeps a fingerprint of what made each view (its compiled SQL,
  its description and column docs, the checksum of every node of the project, dbt's
  version) in `main.optout_view_definitions`; a view whose fingerprint is unchanged and
  which still exists is left as it is. Anything else (any changed model, seed or test, a
  new dbt release, a missing view or fingerprint, --full-refresh) takes dbt's own path
  below, unchanged. The daily builds change none of these: they leave every view in place.

  The fingerprint row is written after the view, in the same transaction: a build killed
  midway leaves either both or neither.
-#}

{%- macro view_definition_fingerprint(sql) -%}
    {#- the project's code too: a view binds the columns of what it reads when it is created
        (DuckDB refuses it once they change), and any changed model may change them -#}
    {%- set code = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- do code.append(node.unique_id ~ ':' ~ node.checksum.checksum) -%}
    {%- endfor -%}
    {%- set documented = {
        'sql': sql,
        'description': model.description,
        'columns': model.columns | tojson,
        'project': local_md5(code | join(',')),
        'dbt': dbt_version,
        'version': 1,
    } -%}
    {{ return(local_md5(documented | tojson)) }}
{%- endmacro -%}

{%- macro view_definitions_table() -%}
    {{ return('main.optout_view_definitions') }}
{%- endmacro -%}

{#- on-run-start, before any thread runs (two creating it at once would conflict) -#}
{%- macro create_view_definitions_table() -%}
    {{ return(adapter.dispatch('create_view_definitions_table', 'optout')()) }}
{%- endmacro -%}

{%- macro default__create_view_definitions_table() -%}
    {{ return('') }}
{%- endmacro -%}

{%- macro duckdb__create_view_definitions_table() -%}
    create table if not exists {{ view_definitions_table() }} (view_name varchar primary key, fingerprint varchar not null)
{%- endmacro -%}

{%- macro stored_view_fingerprint(relation) -%}
    {%- call statement('stored_view_fingerprint', fetch_result=True) -%}
        select fingerprint from {{ view_definitions_table() }} where view_name = '{{ relation.schema }}.{{ relation.identifier }}'
    {%- endcall -%}
    {%- set rows = load_result('stored_view_fingerprint')['data'] -%}
    {{ return(rows[0][0] if rows else none) }}
{%- endmacro -%}

{%- materialization view, adapter='duckdb' -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set fingerprint = view_definition_fingerprint(sql) -%}

  {%- if existing_relation is not none and existing_relation.is_view and not should_full_refresh()
        and stored_view_fingerprint(target_relation) == fingerprint -%}
    {#- the view in place is this definition: nothing to do (dbt still runs its tests) -#}
    {%- call noop_statement('main', 'view unchanged') -%}{%- endcall -%}
    {{ return({'relations': [target_relation]}) }}
  {%- endif -%}

  {#- dbt's own view materialization (global_project, materializations/models/view.sql) -#}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'view' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {% set grant_config = config.get('grants') %}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ get_create_view_as_sql(intermediate_relation, sql) }}
  {%- endcall %}

  {% if existing_relation is not none %}
    {% set existing_relation = load_cached_relation(existing_relation) %}
    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
  {% endif %}
  {{ adapter.rename_relation(intermediate_relation, target_relation) }}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
  {% do persist_docs(target_relation, model) %}

  {% call statement('record_view_fingerprint') -%}
    insert or replace into {{ view_definitions_table() }}
    values ('{{ target_relation.schema }}.{{ target_relation.identifier }}', '{{ fingerprint }}')
  {%- endcall %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ drop_relation_if_exists(backup_relation) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization -%}
