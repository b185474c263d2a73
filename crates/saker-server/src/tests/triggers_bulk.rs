//! The triggers bulk forms (`by-triggers`, `by-query`) and the deletion of a trigger's state.

use saker_storage::{Store, TriggerKey};

use super::*;

const TICKS: &str = "id: ticks\nnamespace: team\ntasks:\n  - id: r\n    type: io.kestra.plugin.core.debug.Return\n    format: x\ntriggers:\n  - id: daily\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 0 * * *\"\n  - id: weekly\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 0 * * MON\"\n";

fn trigger(id: &str) -> Value {
    json!({"namespace": "team", "flowId": "ticks", "triggerId": id})
}

impl Api {
    async fn trigger_states(&self) -> Value {
        let (status, page) = self
            .json(
                Method::GET,
                "/api/v1/triggers/search?namespace=team",
                Body::empty(),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        Value::Array(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["triggerContext"].clone())
                .collect(),
        )
    }

    async fn bulk(&self, method: Method, uri: &str, body: Value) -> (StatusCode, Value) {
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.json(method, uri, body, Some("application/json")).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn triggers_are_disabled_and_enabled_in_bulk() {
    let api = api().await;
    assert_eq!(api.post_flow(TICKS).await.0, StatusCode::OK);
    let (status, count) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/set-disabled/by-triggers",
            json!({"triggers": [trigger("daily"), trigger("nope")], "disabled": true}),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 1})));
    let states = api.trigger_states().await;
    assert_eq!(states[0]["disabled"], true, "{states}");
    assert_eq!(states[1]["disabled"], false, "{states}");
    let (status, count) = api
        .bulk(
            Method::POST,
            "/api/v1/main/triggers/set-disabled/by-query?namespace=team&disabled=false",
            Value::Null,
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 2})));
    assert_eq!(api.trigger_states().await[0]["disabled"], false);
    let (status, _) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/set-disabled/by-triggers",
            json!({"triggers": [trigger("daily")]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/set-disabled/by-query?disabled=maybe",
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_locked_triggers_are_unlocked_in_bulk() {
    let api = api().await;
    api.post_flow(TICKS).await;
    // Locked: waiting for the execution it started.
    let key = TriggerKey {
        namespace: "team".into(),
        flow_id: "ticks".into(),
        trigger_id: "daily".into(),
    };
    let store = api.app.store();
    let mut record = store.get_trigger(&key).await.unwrap().unwrap();
    record.context["executionId"] = json!("someExecution");
    store.put_trigger(&record).await.unwrap();

    let both = json!([trigger("daily"), trigger("weekly")]);
    let (status, count) = api
        .bulk(Method::POST, "/api/v1/triggers/unlock/by-triggers", both)
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 1})));
    assert_eq!(api.trigger_states().await[0].get("executionId"), None);
    let (status, count) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/unlock/by-query?namespace=team",
            Value::Null,
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 0})));
    let (status, error) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/unlock/by-triggers",
            json!([{"namespace": "team"}]),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn backfills_are_paused_and_deleted_in_bulk() {
    let api = api().await;
    api.post_flow(TICKS).await;
    let mut daily = trigger("daily");
    daily["backfill"] = json!({"start": "2025-01-01T00:00:00Z", "end": "2025-01-03T00:00:00Z"});
    let (status, updated) = api.bulk(Method::PUT, "/api/v1/triggers", daily).await;
    assert_eq!(status, StatusCode::OK, "{updated}");

    let both = json!([trigger("daily"), trigger("weekly")]);
    let (status, count) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/backfill/pause/by-triggers",
            both.clone(),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 1})));
    assert_eq!(api.trigger_states().await[0]["backfill"]["paused"], true);
    let (status, count) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/backfill/unpause/by-query?q=daily",
            Value::Null,
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 1})));
    let (status, count) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/backfill/delete/by-query?namespace=team",
            Value::Null,
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 1})));
    assert_eq!(api.trigger_states().await[0].get("backfill"), None);
    let (status, _) = api
        .bulk(
            Method::POST,
            "/api/v1/triggers/backfill/stop/by-triggers",
            both,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn trigger_states_are_deleted_and_start_over() {
    let api = api().await;
    api.post_flow(TICKS).await;
    api.bulk(
        Method::POST,
        "/api/v1/triggers/set-disabled/by-query?namespace=team",
        Value::Null,
    )
    .await;
    let (status, count) = api
        .bulk(
            Method::DELETE,
            "/api/v1/triggers/delete/by-triggers",
            json!([trigger("daily"), trigger("nope")]),
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 1})));
    // A fresh state, as the YAML says (enabled).
    let states = api.trigger_states().await;
    assert_eq!(
        (
            states[0]["triggerId"].clone(),
            states[0]["disabled"].clone()
        ),
        (json!("daily"), json!(false)),
        "{states}"
    );
    assert_eq!(states[1]["disabled"], true);
    let (status, _) = api
        .call(
            Method::DELETE,
            "/api/v1/triggers/team/ticks/weekly",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.trigger_states().await[1]["disabled"], false);
    let (status, error) = api
        .json(
            Method::DELETE,
            "/api/v1/triggers/team/ticks/nope",
            Body::empty(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    let (status, count) = api
        .bulk(
            Method::DELETE,
            "/api/v1/triggers/delete/by-query?namespace=team",
            Value::Null,
        )
        .await;
    assert_eq!((status, count), (StatusCode::OK, json!({"count": 2})));
}
