-- a check on mart_consent_history in Dagster (it reads the staged subscriptions too)
{{ config(meta={'dagster': {'ref': {'name': 'mart_consent_history'}}}) }}
-- The consent ledger is the staged subscriptions, worked out here from them alone: every
-- opt-in and opt-out (an event whose user's previous event, by occurred_at then event_id, is
-- not of its type) is one side of exactly one row, with its own user, time, landing file,
-- export day, record number and ingestion time; the rows pair them as each user's events do
-- (an opt-in with the next opt-out, or none yet; an opt-out that is the user's first event
-- alone); an opt-out carries its source, detection path and revealing campaign; nothing
-- else is on any row, and the counts match. One row per fault.
with events as (
    select
        event_id,
        user_id,
        event_type,
        occurred_at,
        source,
        detected_via,
        campaign_id,
        source_file,
        export_date,
        record_number,
        lag(event_type) over (partition by user_id order by occurred_at, event_id) as previous_type
    from {{ ref('stg_lake__subscriptions') }}
),

changes as (
    -- the opt-ins and opt-outs, redundant repeats left out; `lead` runs over these only
    select
        events.*,
        log.ingested_at,
        lead(events.event_id) over (
            partition by events.user_id order by events.occurred_at, events.event_id
        ) as next_change_id
    from events
    left join {{ ref('stg_lake__ingestion_log') }} as log
        on log.table_name = 'subscriptions' and events.export_date = log.export_date
    where events.previous_type is null or events.previous_type <> events.event_type
),

expected_periods as (
    select
        user_id,
        event_id as opt_in_id,
        next_change_id as opt_out_id
    from changes
    where event_type = 'opt_in'
    union all
    select
        user_id,
        cast(null as {{ dbt.type_string() }}) as opt_in_id,
        event_id as opt_out_id
    from changes
    where event_type = 'opt_out' and previous_type is null
),

ledger as (
    select * from {{ ref('mart_consent_history') }}
),

-- each row is named by its opt-in, or by its opt-out when it has none
ledger_periods as (
    select
        coalesce(opt_in_id, opt_out_id) as period_key,
        user_id,
        opt_in_id,
        opt_out_id,
        count(*) over (partition by coalesce(opt_in_id, opt_out_id)) as copies
    from ledger
),

sides as (
    select
        opt_in_id as event_id,
        'opt_in' as event_type,
        user_id,
        opted_in_at as occurred_at,
        cast(null as {{ dbt.type_string() }}) as source,
        cast(null as {{ dbt.type_string() }}) as detected_via,
        cast(null as {{ dbt.type_string() }}) as revealing_campaign_id,
        opt_in_source_file as source_file,
        opt_in_export_date as export_date,
        opt_in_record_number as record_number,
        opt_in_ingested_at as ingested_at
    from ledger
    where opt_in_id is not null
    union all
    select
        opt_out_id as event_id,
        'opt_out' as event_type,
        user_id,
        opted_out_at as occurred_at,
        source,
        detected_via,
        revealing_campaign_id,
        opt_out_source_file as source_file,
        opt_out_export_date as export_date,
        opt_out_record_number as record_number,
        opt_out_ingested_at as ingested_at
    from ledger
    where opt_out_id is not null
),

counted_sides as (
    select
        *,
        count(*) over (partition by event_id) as copies
    from sides
),

faults as (
    -- a row with neither side
    select
        'a row with neither an opt-in nor an opt-out' as fault,
        user_id as detail
    from ledger
    where opt_in_id is null and opt_out_id is null

    union all

    -- rows paired otherwise than the user's events pair them, missing or repeated
    select
        case
            when ledger_periods.period_key is null then 'period missing from the ledger'
            when expected_periods.user_id is null then 'period not in the subscriptions'
            when ledger_periods.copies > 1 then 'period on more than one row'
            else 'period paired otherwise'
        end as fault,
        coalesce(ledger_periods.period_key, expected_periods.opt_in_id, expected_periods.opt_out_id) as detail
    from ledger_periods
    full outer join expected_periods
        on ledger_periods.period_key = coalesce(expected_periods.opt_in_id, expected_periods.opt_out_id)
    where
        ledger_periods.period_key is null
        or expected_periods.user_id is null
        or ledger_periods.copies > 1
        or ledger_periods.user_id <> expected_periods.user_id
        or ledger_periods.opt_in_id is distinct from expected_periods.opt_in_id
        or ledger_periods.opt_out_id is distinct from expected_periods.opt_out_id

    union all

    -- each opt-in and opt-out once, with the event's own values and provenance
    select
        case
            when sides.event_id is null then 'event on no row'
            when changes.event_id is null then 'event on a row that is no opt-in or opt-out'
            when sides.copies > 1 then 'event on more than one side'
            else 'side differs from its event'
        end as fault,
        coalesce(sides.event_id, changes.event_id) as detail
    from counted_sides as sides
    full outer join changes
        on sides.event_id = changes.event_id
    where
        sides.event_id is null
        or changes.event_id is null
        or sides.copies > 1
        or sides.event_type <> changes.event_type
        or sides.user_id <> changes.user_id
        or sides.occurred_at <> changes.occurred_at
        or sides.source_file <> changes.source_file
        or sides.export_date <> changes.export_date
        or sides.record_number <> changes.record_number
        -- null only where the lake no longer logs the day (OPTOUT_RETENTION_DAYS removed it)
        or sides.ingested_at is distinct from changes.ingested_at
        or (
            sides.event_type = 'opt_out'
            and (
                sides.source <> changes.source
                or sides.detected_via <> changes.detected_via
                or sides.revealing_campaign_id is distinct from (
                    case when changes.detected_via = 'send_feedback' then changes.campaign_id end
                )
            )
        )

    union all

    -- the counts: opt-ins and opt-outs of the subscriptions against the ledger's sides
    select
        'counts differ' as fault,
        coalesce(event_counts.event_type, side_counts.event_type) as detail
    from (
        select
            event_type,
            count(*) as events
        from changes
        group by event_type
    ) as event_counts
    full outer join (
        select
            event_type,
            count(*) as events
        from sides
        group by event_type
    ) as side_counts
        on event_counts.event_type = side_counts.event_type
    where coalesce(event_counts.events, -1) <> coalesce(side_counts.events, -1)
)

select * from faults
