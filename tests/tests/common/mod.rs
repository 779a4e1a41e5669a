//! What the black-box binaries share: the local API as `warden serve`
//! builds it, from an environment given as pairs.

use warden::webhook::SourceConfig;
use warden_cli::serve::{LocalApi, States, build_states, local_config};

/// An environment lookup over `vars`: a name's last value, `None` for a
/// name not there.
pub fn lookup<K: AsRef<str>, V: AsRef<str>>(vars: &[(K, V)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        vars.iter()
            .rev()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref().to_owned())
    }
}

/// The states `warden serve` builds with `vars` as its environment and
/// the webhook `sources`: on DynamoDB tables when `dynamodb` names them
/// (`endpoint`, `prefix`), on the embedded store otherwise.
pub async fn states(
    vars: &[(&str, &str)],
    sources: Vec<SourceConfig>,
    dynamodb: Option<&(String, String)>,
) -> States {
    let mut env: Vec<(&str, &str)> = vars.to_vec();
    if let Some((_, prefix)) = dynamodb {
        env.push(("WARDEN_TABLE_PREFIX", prefix));
    }
    let config = local_config(lookup(&env)).unwrap();
    let endpoint = dynamodb.map(|(endpoint, _)| endpoint.as_str());
    build_states(config, sources, endpoint, None).await.unwrap()
}

/// The local API over `states`, listening on a free loopback port.
pub async fn start(states: States) -> LocalApi {
    LocalApi::start_with("127.0.0.1:0".parse().unwrap(), states)
        .await
        .unwrap()
}
