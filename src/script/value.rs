//! Conversion of script values into YAML values, from which typed specs are deserialised.

use rhai::{Dynamic, FnPtr, ImmutableString, Map, INT};
use serde_norway::{Mapping, Value};

use crate::experiment::ConfigError;

/// Converts a script value to YAML; `path` (e.g. `model.n_rec`) names it in errors.
/// Functions are not data: they are refused here and handled by the caller where allowed.
pub fn to_yaml(value: &Dynamic, path: &str) -> Result<Value, ConfigError> {
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Some(b) = value.clone().try_cast::<bool>() {
        return Ok(Value::Bool(b));
    }
    if let Some(i) = value.clone().try_cast::<INT>() {
        return Ok(Value::Number(i.into()));
    }
    if let Some(f) = value.clone().try_cast::<f64>() {
        return Ok(Value::Number(f.into()));
    }
    if let Some(s) = value.clone().try_cast::<ImmutableString>() {
        return Ok(Value::String(s.to_string()));
    }
    if value.is_array() {
        let items = value.clone().into_array().expect("array");
        return items
            .iter()
            .enumerate()
            .map(|(i, v)| to_yaml(v, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Sequence);
    }
    if let Some(map) = value.clone().try_cast::<Map>() {
        let mut out = Mapping::new();
        for (k, v) in map.iter() {
            let child = if path.is_empty() {
                k.to_string()
            } else {
                format!("{path}.{k}")
            };
            out.insert(Value::String(k.to_string()), to_yaml(v, &child)?);
        }
        return Ok(Value::Mapping(out));
    }
    if value.is::<FnPtr>() {
        return Err(ConfigError::new(path, "a function is not allowed here"));
    }
    Err(ConfigError::new(
        path,
        format!(
            "a value of type {} cannot be used in the experiment",
            value.type_name()
        ),
    ))
}

/// Converts a YAML value into a script value (integers stay integers, mappings become maps).
pub fn from_yaml(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from(i as INT),
            None => Dynamic::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Sequence(items) => Dynamic::from_array(items.iter().map(from_yaml).collect()),
        Value::Mapping(m) => {
            let mut map = Map::new();
            for (k, v) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    other => serde_norway::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                map.insert(key.into(), from_yaml(v));
            }
            Dynamic::from_map(map)
        }
        Value::Tagged(t) => from_yaml(&t.value),
    }
}

/// Why [`set_path`] cannot set a path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetPathError {
    /// The path has an empty part (`train..x`); holds the path.
    #[error("`{0}` has an empty part")]
    EmptyPart(String),
    /// A value on the way is not a mapping; holds the path up to it.
    #[error("`{0}` is not a section")]
    NotASection(String),
}

/// Sets `path` (dot-separated, e.g. `train.iterations`) in a YAML mapping tree, creating
/// intermediate mappings. Fails if an intermediate value exists and is not a mapping.
pub fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), SetPathError> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut node = root;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(SetPathError::EmptyPart(path.to_string()));
        }
        let Value::Mapping(map) = node else {
            return Err(SetPathError::NotASection(parts[..i].join(".")));
        };
        let key = Value::String(part.to_string());
        if i + 1 == parts.len() {
            map.insert(key, value);
            return Ok(());
        }
        node = map
            .entry(key)
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    unreachable!("path has at least one part")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_nested_values_and_refuses_functions() {
        let engine = rhai::Engine::new();
        let v: Dynamic = engine
            .eval(r#"#{ a: 1, b: [1.5, true, "x"], c: #{ d: () } }"#)
            .unwrap();
        let y = to_yaml(&v, "").unwrap();
        let text = serde_norway::to_string(&y).unwrap();
        assert_eq!(text, "a: 1\nb:\n- 1.5\n- true\n- x\nc:\n  d: null\n");
        let f: Dynamic = engine.eval(r#"#{ f: |x| x }"#).unwrap();
        assert_eq!(
            to_yaml(&f, "task").unwrap_err().to_string(),
            "config field `task.f`: a function is not allowed here"
        );
    }

    #[test]
    fn set_path_creates_and_overrides() {
        let mut root: Value = serde_norway::from_str("train: {iterations: 5}").unwrap();
        set_path(&mut root, "train.iterations", Value::Number(7.into())).unwrap();
        set_path(&mut root, "model.n_rec", Value::Number(3.into())).unwrap();
        assert_eq!(
            serde_norway::to_string(&root).unwrap(),
            "train:\n  iterations: 7\nmodel:\n  n_rec: 3\n"
        );
        let err = set_path(&mut root, "train.iterations.x", Value::Null).unwrap_err();
        assert_eq!(err.to_string(), "`train.iterations` is not a section");
        let err = set_path(&mut root, "train..x", Value::Null).unwrap_err();
        assert_eq!(err, SetPathError::EmptyPart("train..x".into()));
    }
}
