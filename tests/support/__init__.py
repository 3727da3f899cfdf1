"""What the tests share: apps, databases, database servers, app servers, ports, documents."""
