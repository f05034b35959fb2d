from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("experio_platform", "0003_graph")]

    operations: list = []
