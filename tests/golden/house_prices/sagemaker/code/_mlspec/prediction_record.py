"""mlspec prediction-drift record preprocessor for SageMaker Model Monitor (DataQuality).

Model Monitor calls preprocess_handler for every captured record; returning the endpoint's
*output* makes the data-quality analysis track the prediction distribution instead of the
input features. https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-pre-and-post-processing.html
"""
import json


def preprocess_handler(inference_record):
    data = inference_record.endpoint_output.data.strip()
    try:
        value = json.loads(data)
    except ValueError:
        value = data.split(",")[0]
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return {f"prediction_{k}": v for k, v in value.items()}
    return {"prediction": value}
