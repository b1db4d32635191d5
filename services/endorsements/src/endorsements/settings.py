from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "endorsements"
    http_port: int = 8003
    mongo_url: str = "mongodb://127.0.0.1:27103/?directConnection=true"
