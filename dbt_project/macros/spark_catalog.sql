{#-
  On-run-start on Spark: the lake's Parquet files as external tables of database `lake`, the
  sources the staging models read (DuckDB reads the same files through the sources'
  external_location). Registered again each run, so a moved lake is followed; dropping an
  external table leaves its files. Only the tables' data files: `pathGlobFilter` keeps the
  ingestion log, quarantine and vendor file counts beside them out (a `dt=` partitioned table would
  not); mergeSchema unions the files' columns by name, as DuckDB's union_by_name does.
-#}
{% macro register_lake_tables() -%}
    {{ return(adapter.dispatch('register_lake_tables', 'optout')()) }}
{%- endmacro %}

{% macro default__register_lake_tables() -%}
    select 1
{%- endmacro %}

{% macro spark__register_lake_tables() -%}
    {%- if execute -%}
        {#- a cluster reads the lake where it sees it (object storage: OPTOUT_SPARK_LAKE_URI) -#}
        {%- set lake = env_var('OPTOUT_SPARK_LAKE_URI', '') or var('lake_dir', '') or optout_path('OPTOUT_LAKE_DIR', 'data/lake') -%}
        {%- set files = {'ingestion_log': 'ingestion_log.parquet', 'quarantine': 'quarantine.parquet', 'source_files': 'source_files.parquet'} -%}
        {%- do run_query('create database if not exists lake') -%}
        {%- for source in graph.sources.values() if source.source_name == 'lake' -%}
            {%- set folder = lake if source.name in files else lake ~ '/' ~ source.name -%}
            {%- do run_query('drop table if exists lake.' ~ source.name) -%}
            {%- do run_query(
                'create table lake.' ~ source.name ~ " using parquet options (path '" ~ folder
                ~ "', pathGlobFilter '" ~ files.get(source.name, 'data.parquet')
                ~ "', recursiveFileLookup 'true', mergeSchema 'true')") -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}

{#-
  On-run-end on Spark: the columns and types of every table this run built, in database
  `dbt_meta`, table `relation_columns` (one partition per relation, so a partial run keeps
  the other relations' rows). Python publishes the Spark tables to DuckDB from it
  (assets/spark_tables.py): a partitioned table with no rows has no Parquet file to read a
  schema from, and a partition column is stored in the folder names, not in the files.
-#}
{% macro record_relation_columns(results) -%}
    {{ return(adapter.dispatch('record_relation_columns', 'optout')(results)) }}
{%- endmacro %}

{% macro default__record_relation_columns(results) -%}
    select 1
{%- endmacro %}

{% macro spark__record_relation_columns(results) -%}
    {%- if execute -%}
        {%- set rows = [] -%}
        {%- for result in results
            if result.node.resource_type in ('model', 'seed')
            and result.status == 'success'
            and result.node.config.materialized in ('table', 'incremental', 'seed') -%}
            {%- set relation = api.Relation.create(schema=result.node.schema, identifier=result.node.alias) -%}
            {%- for column in adapter.get_columns_in_relation(relation) -%}
                {%- do rows.append("(" ~ loop.index ~ ", '" ~ column.name ~ "', '" ~ column.dtype
                    ~ "', '" ~ result.node.schema ~ "." ~ result.node.alias ~ "')") -%}
            {%- endfor -%}
        {%- endfor -%}
        {%- do run_query('create database if not exists dbt_meta') -%}
        {%- do run_query(
            'create table if not exists dbt_meta.relation_columns'
            ~ ' (column_position int, column_name string, data_type string, relation_name string)'
            ~ ' using parquet partitioned by (relation_name)') -%}
        {%- if rows -%}
            {%- do run_query(
                'insert overwrite table dbt_meta.relation_columns partition (relation_name) values '
                ~ rows | join(', ')) -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
