# A small image of the gokafka broker. Build: docker build -t gokafka .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/gokafka ./cmd/gokafka

FROM debian:bookworm-slim
COPY --from=build /out/gokafka /usr/local/bin/gokafka
COPY config/server.properties /etc/gokafka/server.properties
VOLUME /var/lib/gokafka
EXPOSE 9092
# Configuration keys come from server.properties, then from KAFKA_CFG_
# variables (KAFKA_CFG_LOG_DIRS is log.dirs), then from --override
# arguments. log.dirs is set here rather than with an --override so that a
# KAFKA_CFG_LOG_DIRS given to the container can still change it.
ENV KAFKA_CFG_LOG_DIRS=/var/lib/gokafka
ENTRYPOINT ["gokafka", "server", "/etc/gokafka/server.properties"]
