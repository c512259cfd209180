//! The OpenAPI 3.1 document, generated from the route table plus the schemas below.

use serde_json::{Map, Value, json};

use crate::routes::{Reply, RouteDoc};

/// Builds the document for `routes`.
pub(crate) fn document<'a>(routes: impl Iterator<Item = &'a RouteDoc>) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let item = paths.entry(route.path).or_insert_with(|| json!({}));
        item[route.verb.as_str()] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Tuned Tensor API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Behaviour specs → LoRA fine-tuned, evaluated models, billed in prepaid credits.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key, `tt_…`"}},
            "schemas": schemas(),
        },
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn operation(route: &RouteDoc) -> Value {
    let mut parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}))
        .collect();
    if matches!(route.reply, Reply::List(_)) {
        parameters.push(json!({"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}}));
        parameters.push(json!({
            "name": "per_page", "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        }));
    }
    for (name, description) in route.query {
        parameters.push(json!({"name": name, "in": "query", "description": description, "schema": {"type": "string"}}));
    }
    let (status, success) = match route.reply {
        Reply::Data(status, schema) => (
            status,
            json!({"description": "Success", "content": json_content(json!({
                "type": "object", "required": ["data"], "properties": {"data": schema_ref(schema)},
            }))}),
        ),
        Reply::List(schema) => (
            200,
            json!({"description": "One page", "content": json_content(json!({
                "type": "object", "required": ["data", "meta"],
                "properties": {"data": {"type": "array", "items": schema_ref(schema)}, "meta": schema_ref("PageMeta")},
            }))}),
        ),
        Reply::NoContent => (204, json!({"description": "Done; no body"})),
        Reply::Raw(media) => {
            // An event stream is a sequence of events, each with an id (the event's sequence
            // number), a name (`status`, `progress`, `end`) and JSON data as text.
            let schema = if media == "text/event-stream" {
                json!({"type": "object", "properties": {
                    "id": {"type": "string"}, "event": {"type": "string"}, "data": {"type": "string"}
                }})
            } else {
                json!({"type": "string"})
            };
            (200, json!({"description": "Success", "content": {media: {"schema": schema}}}))
        }
    };
    let mut responses = Map::new();
    responses.insert(status.to_string(), success);
    responses.insert(
        "default".to_owned(),
        json!({"description": "An error in the envelope", "content": json_content(schema_ref("Error"))}),
    );
    let mut op = json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": parameters,
        "responses": responses,
    });
    if route.auth {
        op["security"] = json!([{"bearer": []}]);
    } else {
        op["security"] = json!([]);
    }
    if let Some(body) = route.body {
        op["requestBody"] = json!({"required": true, "content": json_content(schema_ref(body))});
    }
    op
}

fn string() -> Value {
    json!({"type": "string"})
}
fn nullable(schema: &str) -> Value {
    json!({"oneOf": [schema_ref(schema), {"type": "null"}]})
}
fn nullable_type(kind: &str) -> Value {
    json!({"type": [kind, "null"]})
}
fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}
fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}
fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

/// The main schemas, named as the routes refer to them.
fn schemas() -> Value {
    let run_status = json!({"type": "string", "enum": ["preparing", "training", "evaluating", "completed", "failed", "cancelled"]});
    let example = object(&["input", "output"], json!({"input": string(), "output": string()}));
    let spec_fields = json!({
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": string(),
        "system_prompt": string(),
        "guidelines": {"type": "array", "maxItems": 50, "items": string()},
        "constraints": {"type": "array", "maxItems": 50, "items": string()},
        "examples": {"type": "array", "minItems": 1, "maxItems": 500, "items": schema_ref("Example")},
        "base_model": {"type": "string", "description": "Defaults to tt-local/tiny"},
    });
    let mut spec = spec_fields.clone();
    spec["id"] = uuid();
    spec["created_at"] = timestamp();
    spec["updated_at"] = timestamp();
    let mut spec_list_item = spec.clone();
    spec_list_item["_run_count"] = json!({"type": "integer"});
    spec_list_item["_latest_run_status"] =
        json!({"oneOf": [schema_ref("RunStatus"), {"type": "null"}]});
    spec_list_item["_latest_run_score"] = nullable_type("number");
    let hyperparameters = json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "augment": {"type": "boolean", "default": true},
            "n_epochs": {"type": "integer", "minimum": 1, "maximum": 20, "default": 4},
            "learning_rate": {"oneOf": [{"const": "auto"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 1}], "default": "auto"},
            "batch_size": {"type": "integer", "minimum": 8, "maximum": 256, "default": 8},
            "lora_rank": {"type": "integer", "minimum": 1, "maximum": 256, "default": 8},
            "lora_alpha": {"type": "integer", "minimum": 1, "maximum": 512, "default": 16},
        },
    });
    let run_fields = json!({
        "id": uuid(), "behavior_spec_id": uuid(), "run_number": {"type": "integer"},
        "status": schema_ref("RunStatus"), "spec_snapshot": schema_ref("SpecInput"),
        "dataset_id": nullable_type("string"), "fine_tune_job_id": nullable_type("string"),
        "model_id": nullable_type("string"), "hyperparameters": schema_ref("Hyperparameters"),
        "eval_summary": nullable("EvalSummary"), "estimated_cost_cents": {"type": "integer"},
        "cost_cents": nullable_type("integer"), "error": nullable_type("string"),
        "started_at": timestamp(), "completed_at": {"type": ["string", "null"], "format": "date-time"},
    });
    let mut run_list_item = run_fields.clone();
    run_list_item["_spec_name"] = string();
    let mut run_detail = run_fields.clone();
    run_detail["_evals"] = json!({"type": "array", "items": schema_ref("EvalResult")});
    let api_key_fields = json!({
        "id": uuid(), "name": string(), "prefix": string(), "created_at": timestamp(),
        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        "revoked_at": {"type": ["string", "null"], "format": "date-time"},
    });
    let mut created_key = api_key_fields.clone();
    created_key["key"] = json!({"type": "string", "description": "The full key, shown only here"});
    let balance = object(
        &["balance_cents", "reserved_cents", "available_cents", "lifetime_topup_cents"],
        json!({
            "balance_cents": {"type": "integer"}, "reserved_cents": {"type": "integer"},
            "available_cents": {"type": "integer"}, "lifetime_topup_cents": {"type": "integer"},
        }),
    );
    json!({
        "Error": object(&["error"], json!({"error": object(&["code", "message"], json!({
            "code": {"type": "string", "enum": [
                "validation_error", "unauthorized", "insufficient_credits", "forbidden", "not_found",
                "method_not_allowed", "conflict", "playground_unavailable", "provider_error", "unavailable", "internal_error",
            ]},
            "message": string(),
            "details": {"type": "object"},
        }))})),
        "PageMeta": object(&["page", "per_page", "total"], json!({
            "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"},
        })),
        "Health": object(&["status"], json!({"status": {"const": "ok"}})),
        "Example": example,
        "SpecInput": {"type": "object", "additionalProperties": false, "required": ["name", "examples"], "properties": spec_fields},
        "SpecPatch": {"type": "object", "additionalProperties": false, "properties": spec_fields},
        "BehaviorSpec": object(&["id", "name", "examples", "base_model", "created_at", "updated_at"], spec),
        "SpecListItem": object(&["id", "name", "_run_count"], spec_list_item),
        "RunStatus": run_status,
        "Hyperparameters": hyperparameters,
        "StartRunRequest": {"type": "object", "additionalProperties": false, "properties": {
            "augment": {"type": "boolean", "default": true},
            "hyperparameters": schema_ref("Hyperparameters"),
        }},
        "RunEstimate": object(&["estimated_cost_cents", "available_cents", "sufficient"], json!({
            "estimated_cost_cents": {"type": "integer"}, "training_tokens": {"type": "integer"},
            "rows": {"type": "integer"}, "n_epochs": {"type": "integer"}, "base_model": string(),
            "rate_cents_per_mtok": {"type": "integer"}, "available_cents": {"type": "integer"},
            "sufficient": {"type": "boolean"},
        })),
        "EvalSummary": object(&["total", "avg_score", "pass_rate", "scoring_method"], json!({
            "total": {"type": "integer"}, "avg_score": {"type": "number"}, "pass_rate": {"type": "number"},
            "exact_match_rate": {"type": "number"}, "avg_latency_ms": {"type": "number"},
            "scoring_method": {"type": "string", "enum": ["llm_judge", "similarity"]},
            "regressions": {"type": "integer"}, "improvements": {"type": "integer"}, "judge_errors": {"type": "integer"},
        })),
        "EvalResult": object(&["example_key", "prompt", "expected", "actual", "score", "passed"], json!({
            "example_key": string(), "prompt": string(), "expected": string(), "actual": string(),
            "score": {"type": "number", "minimum": 0, "maximum": 1}, "passed": {"type": "boolean"},
            "reasoning": string(), "latency_ms": {"type": "integer"}, "judge_error": nullable_type("string"),
        })),
        "Run": object(&["id", "behavior_spec_id", "run_number", "status", "started_at"], run_fields),
        "RunListItem": object(&["id", "status", "_spec_name"], run_list_item),
        "RunDetail": object(&["id", "status", "_evals"], run_detail),
        "RunLogEvent": {"type": "object", "required": ["type"], "properties": {
            "type": {"type": "string", "enum": ["status", "progress"]},
            "from": {"oneOf": [schema_ref("RunStatus"), {"type": "null"}]}, "to": schema_ref("RunStatus"),
            "message": string(), "stage": {"type": "string", "enum": ["preparing", "training", "evaluating"]},
            "percent": {"type": "number"}, "epoch": {"type": "integer"}, "step": {"type": "integer"},
            "total_steps": {"type": "integer"}, "loss": {"type": "number"},
        }},
        "DatasetUpload": {"type": "object", "additionalProperties": false, "required": ["name", "content"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255}, "description": string(),
            "content": {"type": "string", "description": "The JSONL text: one {\"messages\": [...]} object per line"},
        }},
        "Dataset": object(&["id", "name", "format", "status", "row_count"], json!({
            "id": uuid(), "name": string(), "description": string(), "format": {"const": "jsonl"},
            "status": {"type": "string", "enum": ["validated", "invalid"]}, "row_count": {"type": "integer"},
            "file_size_bytes": {"type": "integer"},
            "errors": {"type": "array", "items": object(&["line", "reason"], json!({"line": {"type": "integer"}, "reason": string()}))},
            "run_id": nullable_type("string"), "created_at": timestamp(),
        })),
        "Model": object(&["id", "name", "provider", "provider_model_id", "base_model"], json!({
            "id": uuid(), "name": string(), "provider": {"type": "string", "enum": ["local", "together"]},
            "provider_model_id": string(), "base_model": string(), "fine_tune_job_id": string(),
            "run_id": nullable_type("string"), "behavior_spec_id": nullable_type("string"), "created_at": timestamp(),
        })),
        "BalanceView": balance,
        "LedgerEntry": object(&["id", "kind", "amount_cents", "balance_after_cents", "created_at"], json!({
            "id": uuid(), "kind": {"type": "string", "enum": ["topup", "hold", "release", "debit_run", "adjustment"]},
            "amount_cents": {"type": "integer", "minimum": 0}, "balance_after_cents": {"type": "integer"},
            "reference_id": nullable_type("string"), "created_at": timestamp(),
        })),
        "TopupRequest": {"type": "object", "additionalProperties": false, "required": ["amount_cents"], "properties": {
            "amount_cents": {"type": "integer", "minimum": 1, "maximum": 100_000_000}, "account_id": uuid(),
        }},
        "ApiKey": object(&["id", "name", "prefix", "created_at"], api_key_fields),
        "CreateApiKeyRequest": {"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
        }},
        "CreatedApiKey": object(&["id", "name", "prefix", "key"], created_key),
        "PlaygroundModels": object(&["base_models", "fine_tuned_models"], json!({
            "base_models": {"type": "array", "items": object(&["id", "name", "type"], json!({
                "id": string(), "name": string(), "type": {"const": "base"},
            }))},
            "fine_tuned_models": {"type": "array", "items": object(&["id", "name", "type", "base_model"], json!({
                "id": uuid(), "name": string(), "type": {"const": "fine-tuned"}, "base_model": string(),
            }))},
        })),
        "CompletionRequest": {"type": "object", "additionalProperties": false, "required": ["model"], "properties": {
            "model": {"type": "string", "description": "A base model name, or a fine-tuned model's id or name"},
            "messages": {"type": "array", "items": object(&["role", "content"], json!({
                "role": {"type": "string", "enum": ["system", "user", "assistant"]}, "content": string(),
            }))},
            "prompt": string(),
            "max_tokens": {"type": "integer", "minimum": 64, "maximum": 4096},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        }},
        "Completion": object(&["content", "latency_ms", "model"], json!({
            "content": string(), "latency_ms": {"type": "integer"}, "model": string(),
        })),
    })
}
