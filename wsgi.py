from asigest import create_app

app = create_app()
