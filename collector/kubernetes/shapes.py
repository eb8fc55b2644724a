"""The fields the Kubernetes export formats read, typed as the API declares them
(the OpenAPI definitions ``io.k8s.api.core.v1.Event``, ``io.k8s.api.events.v1.Event``,
``io.k8s.api.core.v1.Pod``, ``io.k8s.api.apps.v1.Deployment`` and its kin; times are
``meta/v1.Time`` strings, counts ``int32``). See `collector.shapes`; a test holds each field
to the API's OpenAPI document."""

from __future__ import annotations

from incident_timeline.collector.shapes import (
    BOOLEAN,
    INTEGER,
    OBJECT,
    STRING,
    ArrayOf,
    MapOf,
    Spec,
)

META: Spec = {
    "name": STRING,
    "namespace": STRING,
    "uid": STRING,
    "creationTimestamp": STRING,
    "annotations": MapOf(STRING),
    "labels": MapOf(STRING),
    "ownerReferences": ArrayOf({"name": STRING, "uid": STRING, "kind": STRING}),
}
REFERENCE: Spec = {"kind": STRING, "name": STRING, "namespace": STRING}
EVENT: Spec = {
    "metadata": META,
    "involvedObject": REFERENCE,
    "regarding": REFERENCE,
    "source": {"component": STRING, "host": STRING},
    "reason": STRING,
    "message": STRING,
    "note": STRING,
    "type": STRING,
    "count": INTEGER,
    "deprecatedCount": INTEGER,
    "series": {"count": INTEGER},
    "firstTimestamp": STRING,
    "lastTimestamp": STRING,
    "eventTime": STRING,
    "deprecatedFirstTimestamp": STRING,
    "deprecatedLastTimestamp": STRING,
    "reportingComponent": STRING,
    "reportingController": STRING,
}
CONTAINER: Spec = {"name": STRING, "image": STRING, "restartPolicy": STRING}
TERMINATED: Spec = {
    "startedAt": STRING,
    "finishedAt": STRING,
    "exitCode": INTEGER,
    "reason": STRING,
    "message": STRING,
}
STATE: Spec = {"running": {"startedAt": STRING}, "terminated": TERMINATED}
CONTAINER_STATUS: Spec = {
    "name": STRING,
    "image": STRING,
    "restartCount": INTEGER,
    "ready": BOOLEAN,
    "state": STATE,
    "lastState": STATE,
}
POD: Spec = {
    "kind": STRING,
    "metadata": META,
    "spec": {
        "nodeName": STRING,
        "containers": ArrayOf(CONTAINER),
        "initContainers": ArrayOf(CONTAINER),
        "ephemeralContainers": ArrayOf({"name": STRING, "image": STRING}),
    },
    "status": {
        "phase": STRING,
        "startTime": STRING,
        "reason": STRING,
        "message": STRING,
        "containerStatuses": ArrayOf(CONTAINER_STATUS),
        "initContainerStatuses": ArrayOf(CONTAINER_STATUS),
        "ephemeralContainerStatuses": ArrayOf(CONTAINER_STATUS),
    },
}
TEMPLATE: Spec = {
    "spec": {"containers": ArrayOf(CONTAINER), "initContainers": ArrayOf(CONTAINER)},
}
WORKLOAD: Spec = {  # Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision
    "kind": STRING,
    "metadata": META,
    "spec": {"template": TEMPLATE},
    "status": {
        "conditions": ArrayOf({"type": STRING, "reason": STRING, "lastUpdateTime": STRING}),
    },
    "revision": INTEGER,
    "data": OBJECT,
}
