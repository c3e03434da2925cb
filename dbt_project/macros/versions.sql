{#-
  Two ways the raw tables repeat themselves, in one place each.

  first_delivery: an event id delivered more than once is kept once, the earliest export
  day, then file name, then record wins. Ingestion keeps an id once within its day; across
  days this is the one place (audit.ingestion_log counts what it drops as duplicates).

  latest_version: users and campaigns are versioned; the latest updated_at wins, ties to
  the later export day, then file name, then record.
-#}
{% macro first_delivery(relation, columns, kept=none) -%}
    select {{ columns | join(', ') }}
    from (
        select
            *,
            row_number() over (
                partition by event_id order by export_date, source_file, record_number
            ) as delivery_rank
        from {{ relation }}
    ) as ranked
    where
        delivery_rank = 1
        {%- if kept is not none %}
        -- an event an earlier, kept export day already delivered stays with that day
        and not exists (select 1 from {{ kept }} as earlier where earlier.event_id = ranked.event_id)
        {%- endif %}
{%- endmacro %}

{% macro latest_version(relation, key, columns) -%}
    select {{ columns | join(', ') }}
    from (
        select
            *,
            row_number() over (
                partition by {{ key }}
                order by updated_at desc, export_date desc, source_file desc, record_number desc
            ) as version_rank
        from {{ relation }}
    ) as ranked
    where version_rank = 1
{%- endmacro %}

{#-
  An event table of the lake, typed as the model's yml declares (macros/staging.sql), each
  event id once (first_delivery). Incremental tables, not views: the models after them read
  them many times per build; a build reloads them from its first export day.
-#}
{% macro staged_events(table, renamed={}) -%}
    with typed as (
        select
            {{- staged_columns(renamed) | indent(8) }}
        from {{ source('lake', table) }}
        where export_date >= cast('{{ reload_from_date() }}' as date)
    )

    {{ first_delivery('typed', staged_types(renamed) | map(attribute='name') | list, this if is_incremental() else none) }}
{%- endmacro %}
