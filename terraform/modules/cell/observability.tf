# Clearance's own operability: the workbook operators open first and the alerts that page them
# (docs/operators.md has the runbook). The app exports its OpenTelemetry metrics with
# azure-monitor-opentelemetry; they land in the cell's Application Insights as customMetrics
# under the same names the local Prometheus shows (shared/adapters/telemetry/instruments.py).

locals {
  # One KQL query per panel and alert; the alerts below reuse them, so what pages is what the
  # workbook shows.
  ops_queries = {
    dead_letters      = <<-KQL
      customMetrics
      | where name == "clearance.dead_letters.depth"
      | extend queue = tostring(customDimensions["queue"])
      | summarize depth = max(value) by queue, bin(timestamp, 5m)
    KQL
    overdue_approvals = <<-KQL
      customMetrics
      | where name == "clearance.approvals.overdue"
      | summarize overdue = max(value) by bin(timestamp, 5m)
    KQL
    stuck_rollouts    = <<-KQL
      customMetrics
      | where name == "clearance.rollouts.stuck"
      | summarize stuck = max(value) by bin(timestamp, 5m)
    KQL
    checkpoint_age    = <<-KQL
      customMetrics
      | where name == "clearance.lineage.checkpoint_age"
      | summarize age_seconds = max(value) by bin(timestamp, 5m)
    KQL
    intake_error_rate = <<-KQL
      customMetrics
      | where name == "clearance.invocations"
      | extend function = tostring(customDimensions["function"]), result = tostring(customDimensions["result"])
      | where function in ("acr_image_pushed", "aml_model_registered")
      | summarize calls = sum(valueSum), errors = sumif(valueSum, result == "error") by bin(timestamp, 15m)
      | extend error_rate = iff(calls > 0, errors / calls, 0.0)
    KQL
    events            = <<-KQL
      customMetrics
      | where name == "clearance.events"
      | extend type = tostring(customDimensions["type"]), outcome = tostring(customDimensions["outcome"]), code = tostring(customDimensions["code"])
      | summarize events = sum(valueSum) by type, outcome, code, bin(timestamp, 1h)
    KQL
    approvals         = <<-KQL
      customMetrics
      | where name in ("clearance.approvals.pending", "clearance.approvals.oldest_pending_age")
      | summarize value = max(value) by name, bin(timestamp, 5m)
    KQL
    rollouts          = <<-KQL
      customMetrics
      | where name == "clearance.rollouts"
      | extend strategy = tostring(customDimensions["strategy"]), outcome = tostring(customDimensions["outcome"])
      | summarize rollouts = sum(valueSum) by strategy, outcome, bin(timestamp, 1h)
    KQL
    journey           = <<-KQL
      union requests, dependencies
      | where customDimensions["clearance.artifact_key"] has "{artifact}" or customDimensions["clearance.event_id"] == "{artifact}" or operation_Id == "{artifact}"
      | distinct operation_Id
      | join kind=inner (union requests, dependencies) on operation_Id
      | project timestamp, operation_Id, name, duration, success, event = customDimensions["clearance.event_id"], approval = customDimensions["clearance.approval_id"], deployment = customDimensions["clearance.deployment_id"]
      | order by timestamp asc
    KQL
  }

  ops_alerts = {
    dead-letters = {
      description = "A message or event was dead-lettered: it will not be processed again on its own."
      query       = "${local.ops_queries.dead_letters} | summarize value = max(depth) by bin(timestamp, 5m)"
      threshold   = 0
      severity    = 1
    }
    approval-overdue = {
      description = "An approval is still pending past its policy's reminder time."
      query       = "${local.ops_queries.overdue_approvals} | project timestamp, value = overdue"
      threshold   = 0
      severity    = 3
    }
    rollout-stuck = {
      description = "A rollout is past its deadline without reaching its last step."
      query       = "${local.ops_queries.stuck_rollouts} | project timestamp, value = stuck"
      threshold   = 0
      severity    = 2
    }
    checkpoint-stale = {
      description = "The newest signed lineage checkpoint is older than the blind-window target plus margin."
      query       = "${local.ops_queries.checkpoint_age} | project timestamp, value = age_seconds"
      threshold   = var.checkpoint_age_alert_seconds
      severity    = 1
    }
    intake-errors = {
      description = "Intake invocations fail above the error-rate threshold."
      query       = "${local.ops_queries.intake_error_rate} | project timestamp, value = error_rate"
      threshold   = var.intake_error_rate_alert
      severity    = 2
    }
  }

  workbook_panels = [
    { title = "Dead-letter depth per queue", query = "dead_letters", chart = "timechart" },
    { title = "Approvals pending and the oldest one's age (s)", query = "approvals", chart = "timechart" },
    { title = "Approvals past their reminder time", query = "overdue_approvals", chart = "timechart" },
    { title = "Intake events by type, outcome and code", query = "events", chart = "table" },
    { title = "Rollouts by strategy and outcome", query = "rollouts", chart = "barchart" },
    { title = "Rollouts past their deadline", query = "stuck_rollouts", chart = "timechart" },
    { title = "Lineage checkpoint age (s)", query = "checkpoint_age", chart = "timechart" },
    { title = "Intake error rate", query = "intake_error_rate", chart = "timechart" },
    { title = "One artifact's journey (artifact key, event id or operation id)", query = "journey", chart = "table" },
  ]
}

resource "azurerm_monitor_action_group" "ops" {
  name                = "ag-clearance-${var.region}"
  resource_group_name = azurerm_resource_group.this.name
  short_name          = "clearance"
  tags                = var.tags

  dynamic "email_receiver" {
    for_each = var.alert_emails
    content {
      name                    = "ops-${email_receiver.key}"
      email_address           = email_receiver.value
      use_common_alert_schema = true
    }
  }
}

resource "azurerm_monitor_scheduled_query_rules_alert_v2" "ops" {
  for_each = local.ops_alerts

  name                    = "clearance-${var.region}-${each.key}"
  display_name            = "Clearance ${var.region}: ${each.key}"
  description             = "${each.value.description} Runbook: docs/operators.md#alert-${each.key}"
  resource_group_name     = azurerm_resource_group.this.name
  location                = var.region
  scopes                  = [azurerm_application_insights.this.id]
  severity                = each.value.severity
  evaluation_frequency    = "PT5M"
  window_duration         = "PT15M"
  auto_mitigation_enabled = true
  tags                    = var.tags

  criteria {
    query                   = each.value.query
    time_aggregation_method = "Maximum"
    metric_measure_column   = "value"
    operator                = "GreaterThan"
    threshold               = each.value.threshold

    failing_periods {
      minimum_failing_periods_to_trigger_alert = 1
      number_of_evaluation_periods             = 1
    }
  }

  action {
    action_groups = [azurerm_monitor_action_group.ops.id]
  }
}

# The platform's own count, independent of the app: fires even when the app cannot export.
resource "azurerm_monitor_metric_alert" "service_bus_dead_letters" {
  name                = "clearance-${var.region}-servicebus-dead-letters"
  resource_group_name = azurerm_resource_group.this.name
  scopes              = [azurerm_servicebus_namespace.this.id]
  description         = "Messages in a Service Bus dead-letter queue. Runbook: docs/operators.md#alert-dead-letters"
  severity            = 1
  frequency           = "PT5M"
  window_size         = "PT15M"
  tags                = var.tags

  criteria {
    metric_namespace = "Microsoft.ServiceBus/namespaces"
    metric_name      = "DeadletteredMessages"
    aggregation      = "Maximum"
    operator         = "GreaterThan"
    threshold        = 0

    dimension {
      name     = "EntityName"
      operator = "Include"
      values   = ["*"]
    }
  }

  action {
    action_group_id = azurerm_monitor_action_group.ops.id
  }
}

resource "azurerm_application_insights_workbook" "ops" {
  name                = uuidv5("url", "https://clearance.invalid/workbooks/${var.region}/operations")
  resource_group_name = azurerm_resource_group.this.name
  location            = var.region
  display_name        = "Clearance ${var.region}: operations"
  source_id           = lower(azurerm_application_insights.this.id)
  category            = "workbook"
  tags                = var.tags

  data_json = jsonencode({
    version = "Notebook/1.0"
    items = concat(
      [
        {
          type = 9
          name = "parameters"
          content = {
            version = "KqlParameterItem/1.0"
            parameters = [
              { name = "artifact", label = "Artifact key, event id or operation id", type = 1, value = "" },
            ]
          }
        },
      ],
      [
        for panel in local.workbook_panels : {
          type = 3
          name = panel.query
          content = {
            version       = "KqlItem/1.0"
            title         = panel.title
            query         = local.ops_queries[panel.query]
            queryType     = 0
            resourceType  = "microsoft.insights/components"
            visualization = panel.chart
            size          = 0
          }
        }
      ]
    )
  })
}
