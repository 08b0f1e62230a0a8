# verno admission webhook image.
#   docker build -t verno:0.1.0 .
#   docker run --rm -v $PWD/tls:/etc/verno/tls:ro -v $PWD/policies:/etc/verno/policies:ro -p 9443:9443 verno:0.1.0
# The Helm chart (deploy/helm/verno) passes its own arguments; CMD is the stand-alone default.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 verno \
    && useradd --system --uid 10001 --gid verno --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin verno
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
EXPOSE 9443
ENTRYPOINT ["verno"]
CMD ["serve", "--host", "0.0.0.0", "--port", "9443", "--tls-cert", "/etc/verno/tls/tls.crt", "--tls-key", "/etc/verno/tls/tls.key", "--policies", "/etc/verno/policies"]
