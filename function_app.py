"""Registration only: every trigger lives in its own Blueprint under ``functions/``."""

import azure.functions as func

from functions import health

app = func.FunctionApp()
app.register_functions(health.bp)
