from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "payments"
    http_port: int = 8002
    mongo_url: str = "mongodb://127.0.0.1:27102/?directConnection=true"
