//! JSON Schema (draft 2020-12) of the policy language, for editors
//! (`krsi policy schema > krsi-policy.schema.json`). Generated from the same
//! tables the checker uses, so it cannot drift from them.
use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::fields::{self, Op};
use crate::model::{Errno, Hook, Severity, HOOK_ALIASES};

pub fn schema() -> Value {
    let mut hooks: Vec<&str> = Hook::ALL.iter().map(|h| h.name()).collect();
    hooks.extend(HOOK_ALIASES.iter().map(|(a, _)| *a));
    let mut field_names: BTreeSet<&str> = BTreeSet::new();
    for h in Hook::ALL {
        field_names.extend(fields::fields_for(*h).map(|f| f.name));
    }
    let mut cond_keys: Vec<&str> = vec!["all", "any", "not", "macro"];
    cond_keys.extend(field_names.iter().copied());
    let ops: serde_json::Map<String, Value> = Op::ALL
        .iter()
        .map(|o| (o.name().to_string(), json!({"$ref": "#/$defs/operand"})))
        .collect();
    let name = json!({"type": "string", "pattern": "^[A-Za-z0-9_.:/-]{1,128}$"});
    let errnos: Vec<&str> = Errno::ALL.iter().map(|e| e.name).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "krsi policy",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "mode": {"$ref": "#/$defs/mode"},
            "loadpin": {"type": "object", "additionalProperties": false, "required": ["root"],
                        "properties": {"root": {"type": "string", "pattern": "^/"}}},
            "lock": {"const": "until-reboot", "description": "seal this file's rules into the kernel until reboot"},
            "lists": {
                "type": "object",
                "additionalProperties": {"oneOf": [
                    {"type": "array", "items": {"$ref": "#/$defs/scalar"}, "minItems": 1},
                    {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1,
                     "description": "entry: note (the note is added to the message of events whose value is the entry)"}
                ]}
            },
            "macros": {"type": "object", "additionalProperties": {"$ref": "#/$defs/condition"}},
            "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}}
        },
        "$defs": {
            "mode": {"enum": ["enforce", "monitor"]},
            "scalar": {"type": ["string", "integer", "boolean"], "minimum": 0},
            "operand": {"oneOf": [
                {"$ref": "#/$defs/scalar"},
                {"type": "array", "items": {"$ref": "#/$defs/scalar"}, "minItems": 1}
            ]},
            "comparison": {"oneOf": [
                {"$ref": "#/$defs/scalar"},
                {"type": "array", "items": {"$ref": "#/$defs/scalar"}, "minItems": 1},
                {"type": "object", "minProperties": 1, "maxProperties": 1,
                 "properties": ops, "additionalProperties": false}
            ]},
            "condition": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"enum": cond_keys},
                "properties": {
                    "all": {"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1},
                    "any": {"type": "array", "items": {"$ref": "#/$defs/condition"}, "minItems": 1},
                    "not": {"$ref": "#/$defs/condition"},
                    "macro": {"type": "string"}
                },
                "additionalProperties": {"$ref": "#/$defs/comparison"}
            },
            "rule": {
                "type": "object",
                "additionalProperties": false,
                "required": ["name", "hook", "action"],
                "properties": {
                    "name": name,
                    "hook": {"enum": hooks},
                    "match": {"$ref": "#/$defs/condition"},
                    "action": {"oneOf": [
                        {"enum": ["audit", "deny", "kill"]},
                        {"type": "object", "additionalProperties": false, "required": ["taint"],
                         "properties": {"taint": name}}
                    ]},
                    "message": {"type": "string"},
                    "severity": {"enum": Severity::NAMES},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "mode": {"$ref": "#/$defs/mode"},
                    "errno": {"enum": errnos},
                    "rate_limit": {"type": "object", "additionalProperties": false,
                        "required": ["events", "per_seconds"],
                        "properties": {"events": {"type": "integer", "minimum": 1},
                                       "per_seconds": {"type": "integer", "minimum": 1, "maximum": 86400}}}
                }
            }
        }
    })
}
