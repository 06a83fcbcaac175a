extension KafkaAPI {
    /// Every api key described, in key order. The descriptions are computed, not stored: they are built once,
    /// compiled into `KafkaAPIs` and let go (their nested field lists are boxed enum payloads, whose tagged
    /// pointers LeakSanitizer cannot follow from a global). Most inter-broker and KRaft keys, share groups and streams have no
    /// description and are not here.
    static var all: [KafkaAPI] { [
        produce,  // 0
        fetch,  // 1
        listOffsets,  // 2
        metadata,  // 3
        offsetCommit,  // 8
        offsetFetch,  // 9
        findCoordinator,  // 10
        joinGroup,  // 11
        heartbeat,  // 12
        leaveGroup,  // 13
        syncGroup,  // 14
        describeGroups,  // 15
        listGroups,  // 16
        saslHandshake,  // 17
        apiVersions,  // 18
        createTopics,  // 19
        deleteTopics,  // 20
        deleteRecords,  // 21
        initProducerId,  // 22
        offsetForLeaderEpoch,  // 23
        addPartitionsToTxn,  // 24
        addOffsetsToTxn,  // 25
        endTxn,  // 26
        writeTxnMarkers,  // 27
        txnOffsetCommit,  // 28
        describeAcls,  // 29
        createAcls,  // 30
        deleteAcls,  // 31
        describeConfigs,  // 32
        alterConfigs,  // 33
        alterReplicaLogDirs,  // 34
        describeLogDirs,  // 35
        saslAuthenticate,  // 36
        createPartitions,  // 37
        createDelegationToken,  // 38
        renewDelegationToken,  // 39
        expireDelegationToken,  // 40
        describeDelegationToken,  // 41
        deleteGroups,  // 42
        electLeaders,  // 43
        incrementalAlterConfigs,  // 44
        alterPartitionReassignments,  // 45
        listPartitionReassignments,  // 46
        offsetDelete,  // 47
        describeClientQuotas,  // 48
        alterClientQuotas,  // 49
        describeUserScramCredentials,  // 50
        alterUserScramCredentials,  // 51
        describeQuorum,  // 55
        updateFeatures,  // 57
        describeCluster,  // 60
        describeProducers,  // 61
        describeTransactions,  // 65
        listTransactions,  // 66
        consumerGroupHeartbeat,  // 68
        consumerGroupDescribe,  // 69
        getTelemetrySubscriptions,  // 71
        pushTelemetry,  // 72
        listConfigResources,  // 74
        describeTopicPartitions,  // 75
    ] }
}
