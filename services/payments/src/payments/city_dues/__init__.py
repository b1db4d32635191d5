"""What cities owe for their match commitments, and how payments collects it (promised -> due ->
received): a Stripe invoice on the city's customer, or a bank transfer a city manager declares
sent and an admin confirms received. Both land in the ledger."""
