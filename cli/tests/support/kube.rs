//! What the Kubernetes tiers' tests share: the server's arguments and an API client as the
//! cluster's admin (the clusters come from `scripts/k8s/with-cluster.sh`).

use kube::{
    Api, Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};

/// `serve` arguments for the kubernetes runtime on `namespace` with the given kubeconfig.
pub fn server_args(kubeconfig: &str, namespace: &str, agent_image: &str) -> Vec<String> {
    let args = ["--runtime", "kubernetes", "--kubeconfig", kubeconfig, "--namespace", namespace];
    args.iter().chain(&["--kube-agent-image", agent_image]).map(|a| (*a).to_owned()).collect()
}

/// The objects of kind `K` in `namespace`, as the holder of `kubeconfig`.
pub async fn api<K>(kubeconfig: &str, namespace: &str) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as kube::Resource>::DynamicType: Default,
{
    let file = Kubeconfig::read_from(kubeconfig).unwrap();
    let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await.unwrap();
    Api::namespaced(Client::try_from(config).unwrap(), namespace)
}
