"""Registration only: every trigger lives in its own Blueprint under ``functions/``."""

import logging

import azure.functions as func

from functions import (
    acr_image_pushed,
    aml_model_registered,
    analysis_decision,
    approval_expirations,
    approval_requests,
    approval_review,
    cell_status,
    dead_letters,
    deployment_expiry,
    deployment_requests,
    devops_checks,
    health,
    lineage_api,
    lineage_heads,
    mail_digests,
    promotions,
    rollback,
)

# azure-core's HttpLoggingPolicy logs every SDK request at INFO, and the Python worker ships
# whatever its root logger lets through: SDK loggers at WARNING, as the local dev host sets
# them (our own loggers, ``shared.*`` and ``functions.*``, are not under ``azure``)
logging.getLogger("azure").setLevel(logging.WARNING)

app = func.FunctionApp()
app.register_functions(health.bp)
app.register_functions(acr_image_pushed.bp)
app.register_functions(aml_model_registered.bp)
app.register_functions(dead_letters.bp)
app.register_functions(approval_requests.bp)
app.register_functions(approval_expirations.bp)
app.register_functions(approval_review.bp)
app.register_functions(deployment_requests.bp)
app.register_functions(rollback.bp)
app.register_functions(promotions.bp)
app.register_functions(analysis_decision.bp)
app.register_functions(lineage_api.bp)
app.register_functions(lineage_heads.bp)
app.register_functions(mail_digests.bp)
app.register_functions(deployment_expiry.bp)
app.register_functions(devops_checks.bp)
app.register_functions(cell_status.bp)
