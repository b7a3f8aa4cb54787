# Galaxy Zoo morphology dashboard, after Streamlit's official Docker pattern.
#
# Choose the deployment mode at run time (see README "Deployment modes" and docs/SECURITY.md):
#   docker run -p 8501:8501 gz-dashboard                    # local: everything, paths confined
#   docker run -p 8501:8501 -e GZ_MODE=public gz-dashboard  # public demo: uploads and built-in data only
FROM python:3.11-slim

WORKDIR /app

RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

# Requirements first, so code changes do not invalidate the (large) dependency layer.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN pip install --no-cache-dir --no-deps -e .

# Only the workspace is writable; the shipped models in /app/models stay root's (read-only to the app).
RUN useradd --create-home --uid 1000 appuser \
    && mkdir -p /app/var \
    && chown -R appuser:appuser /app/var
USER appuser

ENV GZ_HOME=/app/var \
    GZ_MODE=local \
    PYTHONUNBUFFERED=1

EXPOSE 8501

HEALTHCHECK CMD curl --fail http://localhost:8501/_stcore/health || exit 1

# In the public mode Streamlit's upload cap follows the core's 50 MB catalogue cap
# (GZ_MAX_CATALOG_MB or STREAMLIT_SERVER_MAX_UPLOAD_SIZE set explicitly win).
ENTRYPOINT ["sh", "-c", "if [ \"$GZ_MODE\" = public ]; then export STREAMLIT_SERVER_MAX_UPLOAD_SIZE=\"${STREAMLIT_SERVER_MAX_UPLOAD_SIZE:-${GZ_MAX_CATALOG_MB:-50}}\"; fi; exec streamlit run app.py --server.port=8501 --server.address=0.0.0.0"]
