from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "campaigns"
    http_port: int = 8001
    mongo_url: str = "mongodb://127.0.0.1:27101/?directConnection=true"
