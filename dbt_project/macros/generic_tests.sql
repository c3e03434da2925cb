{#- Generic tests written here so the project needs no package download. -#}

{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test reconciles(model, total, parts) %}
select *
from {{ model }}
where {{ total }} <> {{ parts | join(' + ') }}
{% endtest %}

{% test between(model, column_name, min_value, max_value) %}
select *
from {{ model }}
where {{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }}
{% endtest %}
