use super::*;

#[tokio::test]
async fn sim_vcluster_create_connect_delete() {
    let world = World::new(&["host"]);
    let create = sim(
        &world,
        Some("host"),
        "vcluster",
        &argv_of("create mgmt -n mgmt --expose -f /tmp/does-not-exist.yaml --isolate"),
    )
    .await
    .unwrap();
    assert_eq!(
        create.new_clusters,
        [ToolCluster::new("mgmt", "vcluster_mgmt_mgmt")]
    );
    world.apply(&create);
    let svc = world.get_obj("host", "Service", Some("mgmt"), "mgmt");
    assert_eq!(svc["spec"]["type"], "LoadBalancer");

    let connect = sim(
        &world,
        Some("host"),
        "vcluster",
        &argv_of("connect mgmt --namespace mgmt --update-current"),
    )
    .await
    .unwrap();
    run_checks(&connect, "vcluster", &world).await.unwrap();
    assert!(connect.stdout.contains("vcluster_mgmt_mgmt"));
    let missing = sim(&world, Some("host"), "vcluster", &argv_of("connect other"))
        .await
        .unwrap();
    let err = run_checks(&missing, "vcluster", &world).await.unwrap_err();
    assert!(
        err.to_string().contains("Service `vcluster-other/other`"),
        "{err}"
    );

    let delete = sim(
        &world,
        Some("host"),
        "vcluster",
        &argv_of("delete mgmt -n mgmt"),
    )
    .await
    .unwrap();
    assert_eq!(delete.removed_clusters, ["mgmt"]);
    assert_eq!(delete.deletes[0].name, "mgmt");
    assert_eq!(delete.deletes[0].kind, "Namespace");
}
