//! `GET /openapi.json`: an OpenAPI 3.1 description of every endpoint.

use axum::Json;
use serde_json::{json, Value};

fn err(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

/// The OpenAPI document.
pub fn document() -> Value {
    let unauthorized =
        err("missing or wrong credentials (with `WWW-Authenticate: Basic realm=\"itassist\"`)");
    let ask_body = json!({
        "required": true,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/AskRequest" } } }
    });
    let model_errors = json!({
        "400": err("malformed JSON (`invalid_json`) or invalid input (`invalid_input`, e.g. a temperature outside 0..=2)"),
        "401": unauthorized,
        "403": err("sent by a browser from another site that CORS does not allow (`forbidden_origin`)"),
        "413": err("the JSON body is over 2 MiB (`payload_too_large`)"),
        "415": err("the body is not sent as `Content-Type: application/json` (`unsupported_media_type`)"),
        "429": err("too many failed logins from this address (`too_many_attempts`, with `Retry-After`)"),
        "422": err("the prompt does not fit the model window (`context_overflow`)"),
        "424": err("the model is not pulled (`model_not_found`)"),
        "502": err("the model server returned an error (`ollama_error`)"),
        "503": err("the model server cannot be reached (`ollama_unreachable`)"),
        "504": err("the model server did not answer in time (`timeout`)"),
    });
    let mut ask_responses = model_errors.clone();
    ask_responses["200"] = ok(
        "the answer",
        json!({ "$ref": "#/components/schemas/Answer" }),
    );
    let mut stream_responses = model_errors.clone();
    stream_responses["200"] = json!({
        "description": "Server-Sent Events: `sources` ({sources, dropped_passages}), `token` ({text}) repeated, then `done` (an Answer) or `error` ({error:{code,message}}). Failures before the first token are answered with a JSON error and its status instead.",
        "content": { "text/event-stream": { "schema": { "type": "string" } } }
    });
    let mut models_responses = model_errors.clone();
    models_responses["200"] = ok(
        "the models",
        json!({
            "type": "object",
            "properties": {
                "models": { "type": "array", "items": { "type": "object" } },
                "default": { "type": "string" }
            }
        }),
    );
    // The conversation and OpenAI-compatible paths reuse these (the originals move below).
    let chat_unauthorized = unauthorized.clone();
    let chat_ask_body = ask_body.clone();
    let chat_ask_responses = ask_responses.clone();
    let chat_stream_responses = stream_responses.clone();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "itassist",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A local assistant over an IT team's documents. Every endpoint but /health needs HTTP Basic auth. Errors are {\"error\": {\"code\", \"message\"}}."
        },
        "security": [ { "basic": [] } ],
        "paths": {
            "/upload/": { "post": {
                "summary": "Upload one or many files: a job per file (202, ingested in the background), or with wait=true ingest before answering; each new content is a new document (never replaced by name)",
                "parameters": [ { "name": "replace", "in": "query", "required": false,
                    "schema": { "type": "string", "pattern": "^[0-9]+$" },
                    "description": "replace the document with this id by the one uploaded file (status `replaced`, with `previous_id`)" },
                    { "name": "wait", "in": "query", "required": false,
                    "schema": { "type": "boolean", "default": false },
                    "description": "ingest before answering, with a status per file (200, the original answer); otherwise 202 with a job per file" } ],
                "requestBody": { "required": true, "content": { "multipart/form-data": { "schema": {
                    "type": "object",
                    "properties": { "files": { "type": "array", "items": { "type": "string", "format": "binary" } } }
                } } } },
                "responses": {
                    "200": ok("with wait=true: a status per file: added, replaced, unchanged, duplicate or failed", json!({ "$ref": "#/components/schemas/UploadReport" })),
                    "202": ok("without wait: a queued job per file", json!({ "type": "object", "properties": { "jobs": { "type": "array", "items": { "$ref": "#/components/schemas/Job" } } } })),
                    "400": err("not a multipart body, no file in it, a malformed `replace` id, or `replace` with more than one file"),
                    "401": unauthorized,
                    "403": err("sent by a browser from another site that CORS does not allow (`forbidden_origin`)"),
                    "404": err("`replace` names no document (`document_not_found`)"),
                    "413": err("larger than the upload limit (`payload_too_large`)"),
                    "429": err("too many failed logins from this address (`too_many_attempts`)"),
                    "415": err("every file is of an unsupported type (`unsupported_format`, with `supported`)"),
                    "422": err("every file is corrupt or empty")
                }
            } },
            "/jobs": { "get": {
                "summary": "The recent upload and re-index jobs, newest first",
                "parameters": [ { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } } ],
                "responses": { "200": ok("the jobs", json!({ "type": "object", "properties": { "jobs": { "type": "array", "items": { "$ref": "#/components/schemas/Job" } } } })), "401": unauthorized.clone() }
            } },
            "/jobs/{id}": { "get": {
                "summary": "One job: its state, progress, and result or error",
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } } ],
                "responses": { "200": ok("the job", json!({ "$ref": "#/components/schemas/Job" })), "404": err("no such job (`job_not_found`)"), "401": unauthorized.clone() }
            } },
            "/jobs/{id}/events": { "get": {
                "summary": "The job's progress as Server-Sent Events",
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } } ],
                "responses": {
                    "200": { "description": "Server-Sent Events whose data is always the whole Job: `progress` (the current state first, then each change) while queued or running, then one `done` or `failed`, and the stream ends.", "content": { "text/event-stream": { "schema": { "type": "string" } } } },
                    "404": err("no such job (`job_not_found`)"), "401": unauthorized.clone()
                }
            } },
            "/jobs/events": { "get": {
                "summary": "Every change of every job as Server-Sent Events (`progress`, `done`, `failed`, data: the Job); never ends",
                "responses": { "200": { "description": "Server-Sent Events", "content": { "text/event-stream": { "schema": { "type": "string" } } } }, "401": unauthorized.clone() }
            } },
            "/reindex": { "post": {
                "summary": "Re-embed every chunk with another embedding model as a job (admins only, ITASSIST_ADMINS); when done, the server answers from the new model",
                "requestBody": { "required": false, "content": { "application/json": { "schema": { "type": "object", "properties": { "model": { "type": "string", "description": "default: the configured model" } } } } } },
                "responses": {
                    "202": ok("the queued job", json!({ "type": "object", "properties": { "job": { "$ref": "#/components/schemas/Job" } } })),
                    "401": unauthorized.clone(),
                    "403": err("not an admin (`forbidden`), or a cross-site request (`forbidden_origin`)"),
                    "409": err("a re-index is already queued or running (`conflict`)")
                }
            } },
            "/ask/": { "post": {
                "summary": "Answer a question from the documents, with sources",
                "requestBody": ask_body,
                "responses": ask_responses
            } },
            "/ask/stream": {
                "post": { "summary": "Answer a question, streamed as Server-Sent Events", "requestBody": ask_body, "responses": stream_responses },
                "get": {
                    "summary": "Like POST, for EventSource",
                    "parameters": [
                        { "name": "question", "in": "query", "required": true, "schema": { "type": "string" } },
                        { "name": "context", "in": "query", "schema": { "type": "boolean", "default": true } },
                        { "name": "model", "in": "query", "schema": { "type": "string" } },
                        { "name": "top_k", "in": "query", "schema": { "type": "integer", "minimum": 1 } }
                    ],
                    "responses": stream_responses
                }
            },
            "/search": { "post": {
                "summary": "The passages that best match a query",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["query"],
                    "properties": { "query": { "type": "string" }, "k": { "type": "integer", "minimum": 1, "maximum": 100 } }
                } } } },
                "responses": {
                    "200": ok("passages, best first", json!({ "type": "object", "properties": {
                        "query": { "type": "string" },
                        "results": { "type": "array", "items": { "$ref": "#/components/schemas/Passage" } }
                    } })),
                    "400": err("malformed JSON or empty query"),
                    "401": unauthorized,
                    "403": err("sent by a browser from another site that CORS does not allow (`forbidden_origin`)"),
                    "413": err("the JSON body is over 2 MiB (`payload_too_large`)"),
                    "415": err("the body is not sent as `Content-Type: application/json` (`unsupported_media_type`)")
                }
            } },
            "/documents": { "get": {
                "summary": "The indexed documents",
                "responses": {
                    "200": ok("documents", json!({ "type": "object", "properties": {
                        "documents": { "type": "array", "items": { "$ref": "#/components/schemas/Document" } }
                    } })),
                    "401": unauthorized
                }
            } },
            "/documents/{id}": { "delete": {
                "summary": "Remove a document with its chunks and vectors",
                "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } } ],
                "responses": {
                    "200": ok("the removed document", json!({ "type": "object", "properties": { "removed": { "$ref": "#/components/schemas/Document" } } })),
                    "400": err("the id is not plain decimal digits (`+1` is not 1)"),
                    "401": unauthorized,
                    "403": err("sent by a browser from another site that CORS does not allow (`forbidden_origin`)"),
                    "404": err("no such document (`document_not_found`)")
                }
            } },
            "/models": { "get": { "summary": "Models of the chat-model server", "responses": models_responses } },
            "/conversations": {
                "get": { "summary": "Stored conversations, most recent first ({conversations: [{id, title, created_at, updated_at, turns}]})", "responses": { "200": ok("the conversations", json!({ "type": "object" })), "401": chat_unauthorized.clone() } },
                "post": { "summary": "Start a conversation (optional body {title})", "responses": { "201": ok("the new conversation", json!({ "type": "object" })), "401": chat_unauthorized.clone() } }
            },
            "/conversations/{id}": {
                "get": { "summary": "A conversation with its turns (question, answer, sources, cited, searched_query)", "responses": { "200": ok("the conversation", json!({ "type": "object" })), "404": err("no such conversation (`conversation_not_found`)"), "401": chat_unauthorized.clone() } },
                "delete": { "summary": "Delete a conversation", "responses": { "200": ok("{deleted: summary}", json!({ "type": "object" })), "404": err("no such conversation (`conversation_not_found`)"), "401": chat_unauthorized.clone() } }
            },
            "/conversations/{id}/ask": { "post": { "summary": "Ask in a conversation (the earlier turns are used); the turn is stored", "requestBody": chat_ask_body.clone(), "responses": chat_ask_responses.clone() } },
            "/conversations/{id}/ask/stream": { "post": { "summary": "Like /conversations/{id}/ask, as Server-Sent Events", "requestBody": chat_ask_body.clone(), "responses": chat_stream_responses.clone() } },
            "/v1/models": { "get": { "summary": "OpenAI-compatible: the chat models as itassist-docs/<model> (Bearer API key or Basic)", "responses": { "200": ok("{object: list, data}", json!({ "type": "object" })), "401": chat_unauthorized.clone() } } },
            "/v1/chat/completions": { "post": { "summary": "OpenAI-compatible chat completion from the documents (stream true/false); errors in OpenAI's shape", "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "required": ["messages"] } } } }, "responses": { "200": ok("a chat completion with sources (or SSE chunks ending data: [DONE])", json!({ "type": "object" })), "400": err("invalid request (`invalid_request_error`)"), "401": chat_unauthorized.clone() } } },
            "/health": { "get": {
                "summary": "Index and model-server state (no authentication)",
                "security": [],
                "responses": {
                    "200": ok("status `ok` or `degraded` (model server unreachable)", json!({ "type": "object" })),
                    "503": ok("the index cannot be read", json!({ "type": "object" }))
                }
            } },
            "/openapi.json": { "get": { "summary": "This document", "responses": { "200": ok("OpenAPI 3.1", json!({ "type": "object" })), "401": unauthorized } } },
            "/": { "get": { "summary": "The web page", "responses": { "200": { "description": "HTML", "content": { "text/html": {} } }, "401": unauthorized } } }
        },
        "components": {
            "securitySchemes": { "basic": { "type": "http", "scheme": "basic" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {
                        "code": { "type": "string", "description": "stable machine-readable code" },
                        "message": { "type": "string", "description": "what went wrong, with its causes, and what to do" },
                        "supported": { "type": "array", "items": { "type": "string" }, "description": "with unsupported_format" }
                    }
                } } },
                "AskRequest": { "type": "object", "required": ["question"], "properties": {
                    "question": { "type": "string" },
                    "context": { "type": "boolean", "default": true, "description": "false: ask the model directly, without passages" },
                    "model": { "type": "string" },
                    "top_k": { "type": "integer", "minimum": 1, "maximum": 100 },
                    "temperature": { "type": "number", "minimum": 0, "maximum": 2 },
                    "num_ctx": { "type": "integer" },
                    "num_predict": { "type": "integer" },
                    "seed": { "type": "integer" }
                } },
                "Answer": { "type": "object", "properties": {
                    "question": { "type": "string" },
                    "answer": { "type": "string" },
                    "context_used": { "type": "boolean", "description": "whether passages were given to the model" },
                    "sources": { "type": "array", "items": { "$ref": "#/components/schemas/Passage" } },
                    "cited": { "type": "array", "items": { "type": "integer" }, "description": "1-based numbers of the sources the answer cites" },
                    "model": { "type": "string" },
                    "dropped_passages": { "type": "integer" },
                    "finish_reason": { "type": ["string", "null"] },
                    "timings": { "type": "object" }
                } },
                "Passage": { "type": "object", "properties": {
                    "chunk_id": { "type": "integer" }, "document_id": { "type": "integer" },
                    "source": { "type": "string" }, "name": { "type": "string" },
                    "title": { "type": ["string", "null"] }, "page": { "type": ["integer", "null"] },
                    "section": { "type": ["string", "null"] }, "text": { "type": "string" },
                    "score": { "type": "number" }
                } },
                "Document": { "type": "object", "properties": {
                    "id": { "type": "integer" }, "source": { "type": "string" }, "name": { "type": "string" },
                    "title": { "type": ["string", "null"] }, "format": { "type": "string" },
                    "media_type": { "type": "string" }, "sha256": { "type": "string" },
                    "size": { "type": "integer" }, "page_count": { "type": ["integer", "null"] },
                    "chunk_count": { "type": "integer" }, "ingested_at": { "type": "integer" }
                } },
                "Job": { "type": "object", "required": ["id", "kind", "state"], "properties": {
                    "id": { "type": "integer" },
                    "kind": { "type": "string", "enum": ["upload", "reindex"] },
                    "state": { "type": "string", "enum": ["queued", "running", "done", "failed"] },
                    "name": { "type": "string" }, "original_name": { "type": "string" },
                    "size": { "type": "integer" }, "sha256": { "type": "string" },
                    "replace": { "type": "integer" }, "model": { "type": "string" },
                    "submitted_by": { "type": "string" },
                    "progress": { "type": "object", "properties": {
                        "phase": { "type": "string", "enum": ["embedding", "building_index", "swapping"] },
                        "chunks_done": { "type": "integer" }, "chunks_total": { "type": "integer" },
                        "pages_total": { "type": "integer" }
                    } },
                    "result": { "type": "object", "description": "upload: the per-file entry of UploadReport; re-index: its report" },
                    "error": { "type": "object", "description": "{code, message, ...}" },
                    "attempts": { "type": "integer" },
                    "created_at": { "type": "integer" }, "started_at": { "type": "integer" }, "finished_at": { "type": "integer" },
                    "url": { "type": "string" }, "events": { "type": "string" }
                } },
                "UploadReport": { "type": "object", "properties": {
                    "files": { "type": "array", "items": { "type": "object", "properties": {
                        "name": { "type": "string", "description": "display name: the last component of the client's filename" },
                        "original_name": { "type": "string" },
                        "status": { "type": "string", "enum": ["added", "replaced", "unchanged", "duplicate", "failed"] },
                        "document": { "$ref": "#/components/schemas/Document" },
                        "document_id": { "type": "integer", "description": "with unchanged and duplicate: the document that holds this content" },
                        "previous_id": { "type": "integer", "description": "with replaced: the id of the document that was replaced" },
                        "duplicate_of": { "type": "string" },
                        "error": { "type": "object" },
                        "size": { "type": "integer" },
                        "sha256": { "type": "string" }
                    } } },
                    "failed": { "type": "integer" }
                } }
            }
        }
    })
}

/// `GET /openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(document())
}
