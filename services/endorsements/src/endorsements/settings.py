from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "endorsements"
    http_port: int = 8003
    mongo_url: str = "mongodb://127.0.0.1:27103/?directConnection=true"
    # RabbitMQ management HTTP API: creates the AMQP users of city systems.
    rabbit_management_url: str = "http://127.0.0.1:15672"
    rabbit_management_user: str = "guest"
    rabbit_management_password: str = "guest"
    # Keys the hashes of census rows and letter codes (with a salt per city). Must be set, and
    # kept, in production: changing it makes every uploaded census and posted code unusable.
    residency_pepper: str = "development-residency-pepper"
