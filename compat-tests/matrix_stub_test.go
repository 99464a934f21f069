package compattests

func kcatMatrixClient() matrixClient { return matrixClient{name: "kcat", absent: func() string { return "todo" }} }
func confluentMatrixClient() matrixClient { return matrixClient{name: "confluent-kafka-python", absent: func() string { return "todo" }} }
func kafkaPythonMatrixClient() matrixClient { return matrixClient{name: "kafka-python", absent: func() string { return "todo" }} }
func kafkajsMatrixClient() matrixClient { return matrixClient{name: "kafkajs", absent: func() string { return "todo" }} }
