"""Registration only: every trigger lives in its own Blueprint under ``functions/``."""

import azure.functions as func

from functions import acr_image_pushed, aml_model_registered, eventgrid_deadletters, health

app = func.FunctionApp()
app.register_functions(health.bp)
app.register_functions(acr_image_pushed.bp)
app.register_functions(aml_model_registered.bp)
app.register_functions(eventgrid_deadletters.bp)
