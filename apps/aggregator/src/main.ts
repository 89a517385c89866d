import 'reflect-metadata';
import { runAgent } from '@agent-mesh/runtime';
import { AppModule } from './app.module';

runAgent(AppModule, 'aggregator');
